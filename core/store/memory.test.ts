import { describe, expect, it } from 'vitest';
import { Metrics } from '../observe/metrics.ts';
import { MAX_PENDING_CHALLENGES, MemoryStore } from './memory.ts';
import { observeStore } from './observed.ts';
import { describeAuthenticationStore } from './store-harness.ts';
import type { AuthenticationStore } from './types.ts';

describeAuthenticationStore('MemoryStore', {
  create: async () => new MemoryStore({ gracePeriodMs: 30 * 60_000, cleanupIntervalMs: 0 }),
  ordered: true,
  atOnce: true,
  dump: async (store) => (store as MemoryStore).snapshot(),
});

// As the runtime holds it: counted and timed (observed.ts), its lookup still at once.
const observedOver = new WeakMap<AuthenticationStore, MemoryStore>();
describeAuthenticationStore('MemoryStore, observed', {
  create: async () => {
    const inner = new MemoryStore({ gracePeriodMs: 30 * 60_000, cleanupIntervalMs: 0 });
    const observed = observeStore(inner, 'memory', new Metrics());
    observedOver.set(observed, inner);
    return observed;
  },
  ordered: true,
  atOnce: true,
  dump: async (store) => (observedOver.get(store) as MemoryStore).snapshot(),
});

describe('MemoryStore cleanup', () => {
  it('keeps an expired authentication for the grace period and removes it after', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const store = new MemoryStore({ gracePeriodMs: 30 * 60_000, cleanupIntervalMs: 0, now: () => now });
    const expiring = await store.createAuthentication({
      method: 'METHOD_OIDC',
      metadata: {},
      expiresAt: new Date('2026-01-01T01:00:00Z'),
    });
    const forever = await store.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });

    now = new Date('2026-01-01T01:29:59Z');
    expect(store.cleanup()).toBe(0);
    now = new Date('2026-01-01T01:30:00Z');
    expect(store.cleanup()).toBe(0);
    expect(await store.getAuthenticationById(expiring.authentication.id)).toBeDefined();

    now = new Date('2026-01-01T01:30:01Z');
    expect(store.cleanup()).toBe(1);
    expect(await store.getAuthenticationById(expiring.authentication.id)).toBeUndefined();
    expect(await store.getAuthenticationByClientToken(expiring.clientToken)).toBeUndefined();

    now = new Date('2126-01-01T00:00:00Z');
    expect(store.cleanup()).toBe(0);
    expect(await store.getAuthenticationById(forever.authentication.id)).toBeDefined();
    await store.close();
  });

  it('runs with the longest interval a timer can hold when asked for longer', async () => {
    const store = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 720 * 3_600_000 });
    const busy = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const used = process.cpuUsage(busy);
    expect((used.user + used.system) / 1000).toBeLessThan(60);
    await store.close();
  });

  it('runs by itself every cleanup interval', async () => {
    const store = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 50 });
    const { authentication } = await store.createAuthentication({
      method: 'METHOD_OIDC',
      metadata: {},
      expiresAt: new Date(Date.now() + 20),
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await store.getAuthenticationById(authentication.id)).toBeUndefined();
    await store.close();
  });
});

describe('MemoryStore challenges', () => {
  it('keeps at most MAX_PENDING_CHALLENGES, forgetting the oldest, so a flood of logins cannot exhaust memory', async () => {
    const store = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });
    for (let i = 0; i < MAX_PENDING_CHALLENGES + 10; i++)
      await store.putChallenge(`state-${i}`, `value-${i}`, 60_000);
    expect(JSON.parse(store.snapshot()).challenges).toHaveLength(MAX_PENDING_CHALLENGES);
    expect(await store.popChallenge('state-9')).toBeUndefined();
    expect(await store.popChallenge('state-10')).toBe('value-10');
    expect(await store.popChallenge(`state-${MAX_PENDING_CHALLENGES + 9}`)).toBe(
      `value-${MAX_PENDING_CHALLENGES + 9}`,
    );
  });
});
