import { describe, expect, it } from 'vitest';
import { defineMethod } from '../../core/plugins/kit/define.ts';
import { methodTestContext } from './test-context.ts';

const plugin = defineMethod({
  name: 'magic',
  method: 'METHOD_MAGIC',
  sessionCompatible: false,
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  async create(ctx) {
    ctx.log.info({ answer: 42 }, 'magic is ready');
    ctx.log.debug('debug, kept');
    ctx.log.trace('trace, kept');
    const { clientToken } = await ctx.store.createAuthentication({
      method: 'METHOD_MAGIC',
      metadata: { who: 'ada' },
    });
    return {
      schemes: ['Magic'],
      async authenticate(credential) {
        if (credential.value !== clientToken)
          ctx.error('ERR_UNAUTHENTICATED', 'wrong spell', { reason: 'wrong_spell' });
        return { id: 'ada', method: 'METHOD_MAGIC', expiresAt: ctx.now(), metadata: {} };
      },
    };
  },
});

describe('methodTestContext', () => {
  it('gives create a working context: its logs kept, its store real, its clock given, its errors coded', async () => {
    const fixed = new Date('2026-01-02T03:04:05Z');
    const { ctx, logs, store, root, close } = await methodTestContext({
      name: 'magic',
      root: { authentication: { session: { domain: 'example.com' } } },
      now: () => fixed,
    });
    const instance = await plugin.create(ctx, {});
    expect(logs).toEqual([
      expect.objectContaining({ msg: 'magic is ready', answer: 42, plugin: 'magic', level: 'info' }),
      expect.objectContaining({ msg: 'debug, kept', plugin: 'magic', level: 'debug' }),
      expect.objectContaining({ msg: 'trace, kept', plugin: 'magic', level: 'trace' }),
    ]);
    const [created] = (await store.listAuthentications({ method: 'METHOD_MAGIC' })).authentications;
    expect(created?.metadata).toEqual({ who: 'ada' });
    expect(root.authentication.session.domain).toBe('example.com');
    expect(ctx.session.domain).toBe('example.com');
    await expect(instance.authenticate?.({ scheme: 'Magic', value: 'nope' })).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
      reason: 'wrong_spell',
      plugin: 'magic',
    });
    await instance.close?.();
    await close();
  });

  it('refuses a configuration portcullis would refuse', async () => {
    await expect(
      methodTestContext({ root: { authentication: { session: { storage: { type: 'mongo' } } } } }),
    ).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
    });
  });
});

describe('methodTestContext: ctx.metrics', () => {
  it('records what the plugin counts, as /metrics would show it, with portcullis’s rules', async () => {
    const { ctx, metrics, close } = await methodTestContext({ name: 'magic' });
    ctx.metrics.increment('spells', { kind: 'fire' });
    ctx.metrics.observe('cast_seconds', 0.5);
    expect(() => ctx.metrics.increment('Spells')).toThrow(
      expect.objectContaining({ code: 'ERR_PLUGIN_FAILED' }),
    );
    const text = await metrics();
    expect(text).toContain('portcullis_plugin_spells_total{plugin="magic",kind="fire"} 1');
    expect(text).toContain('portcullis_plugin_cast_seconds_count{plugin="magic"} 1');
    await close();
  });
});

describe('methodTestContext: ctx.audit', () => {
  it('keeps what the plugin records as plugin:<action> events, and the session helpers’ login and logout events', async () => {
    const { ctx, audits, close } = await methodTestContext({ name: 'magic' });
    ctx.audit.record('spell_cast', { status: 'denied', payload: { spell: 'fire', plugin: 'forged' } });
    expect(() => ctx.audit.record('Spell Cast')).toThrow(
      expect.objectContaining({ code: 'ERR_PLUGIN_FAILED' }),
    );
    const request = { ip: '192.0.2.7', raw: {}, headers: {}, query: {} } as never;
    ctx.session.recordLogout(request, { kind: 'back_channel', provider: 'main', sessions: 2 });
    expect(audits).toEqual([
      {
        type: 'plugin',
        action: 'spell_cast',
        status: 'denied',
        payload: { spell: 'fire', plugin: 'magic' },
      },
      {
        type: 'logout',
        action: 'back_channel',
        status: 'success',
        actor: { authentication: 'none', ip: '192.0.2.7' },
        payload: { method: 'METHOD_MAGIC', sessions: 2, provider: 'main' },
      },
    ]);
    await close();
  });
});
