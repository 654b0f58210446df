import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory.ts';
import { StaticTokenStore } from './static.ts';
import { describeAuthenticationStore } from './store-harness.ts';

const startedAt = new Date('2026-08-22T10:00:00.123Z');
const tokens = [{ name: 'bootstrap', credential: 's3cr3t', metadata: { role: 'admin' } }];
const memory = () => new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });

let inner: MemoryStore;
describeAuthenticationStore('StaticTokenStore over MemoryStore', {
  create: async () => {
    inner = memory();
    return new StaticTokenStore(inner, tokens, startedAt);
  },
  ordered: true,
  dump: async () => inner.snapshot(),
});

describe('StaticTokenStore', () => {
  it('answers a configured credential with a never-expiring METHOD_TOKEN authentication named like the token', async () => {
    const store = new StaticTokenStore(memory(), tokens, startedAt);
    expect(await store.getAuthenticationByClientToken('s3cr3t')).toEqual({
      id: 'bootstrap',
      method: 'METHOD_TOKEN',
      createdAt: startedAt,
      updatedAt: startedAt,
      metadata: { role: 'admin' },
    });
  });

  it('cannot be listed, fetched by id, expired or deleted', async () => {
    const store = new StaticTokenStore(memory(), tokens, startedAt);
    expect((await store.listAuthentications({})).authentications).toEqual([]);
    expect(await store.getAuthenticationById('bootstrap')).toBeUndefined();
    await expect(store.expireAuthentication('bootstrap', new Date())).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    expect(await store.deleteAuthentications({ id: 'bootstrap' })).toBe(0);
    expect(await store.getAuthenticationByClientToken('s3cr3t')).toBeDefined();
  });

  it('falls through to the store underneath for other tokens', async () => {
    const store = new StaticTokenStore(memory(), tokens, startedAt);
    const { clientToken, authentication } = await store.createAuthentication({
      method: 'METHOD_TOKEN',
      metadata: {},
    });
    expect(await store.getAuthenticationByClientToken(clientToken)).toEqual(authentication);
    expect(await store.getAuthenticationByClientToken('not-a-token')).toBeUndefined();
  });
});
