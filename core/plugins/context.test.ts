import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RootConfig } from '../config/types.ts';
import { ErrorCodes, PluginError } from '../errors.ts';
import { createLogger, SecretScrubber } from '../log.ts';
import { createMethodContext, errorRaiser } from './context.ts';
import type { MethodStore, SessionHelpers } from './contracts.ts';
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

describe('ctx.createFetch', () => {
  it('keeps its own pool, which the runtime closes after the method: no socket outlives it, no request follows', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    const { context, release } = createMethodContext({
      name: 'magic',
      log: createLogger({ level: 'error', encoding: 'json', keys: {} }, new SecretScrubber(), { write() {} }),
      config: {} as RootConfig,
      store: {} as MethodStore,
      session: {} as SessionHelpers,
    });
    const fetch = context.createFetch({ ca: '' });
    expect(await (await fetch(url)).text()).toBe('ok');
    // Both ends of the kept-alive connection.
    expect(sockets()).toBe(before + 2);
    await release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sockets()).toBe(before);
    await expect(fetch(url)).rejects.toThrow('this plugin has been closed');
  });
});
