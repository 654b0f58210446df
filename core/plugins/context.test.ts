import { describe, expect, it } from 'vitest';
import { ErrorCodes, PluginError } from '../errors.ts';
import { errorRaiser } from './context.ts';
import { guard } from './guard.ts';

describe('ctx.error', () => {
  it('throws a coded PluginError naming the plugin, with a reason id and a cause', () => {
    const cause = new Error('ENOENT');
    let thrown: unknown;
    try {
      errorRaiser('htpasswd')(ErrorCodes.UNAUTHENTICATED, 'wrong password', {
        reason: 'wrong_password',
        cause,
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PluginError);
    expect(thrown).toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
      plugin: 'htpasswd',
      reason: 'wrong_password',
      message: 'wrong password',
      cause,
    });
  });

  it('is reported with the plugin and the phase when raised at start-up, its code kept on the cause', async () => {
    const error = await guard('htpasswd', 'create', () =>
      errorRaiser('htpasswd')(ErrorCodes.PLUGIN_FAILED, 'cannot read /etc/htpasswd'),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'ERR_PLUGIN_FAILED',
      plugin: 'htpasswd',
      message: 'plugin "htpasswd" failed in create: cannot read /etc/htpasswd',
      cause: { code: 'ERR_PLUGIN_FAILED', plugin: 'htpasswd' },
    });
  });
});
