import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashClientToken } from '../auth/token.ts';
import { Metrics } from '../observe/metrics.ts';
import { parseExposition, scrape, value } from '../test-support/exposition.ts';
import { type RedisServer, startRedis } from '../test-support/redis.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { answersAtOnce, lookUpTokenHash } from './at-once.ts';
import { MemoryStore } from './memory.ts';
import { observeStore } from './observed.ts';

const ADMIN = 'store-metrics-admin';
const OPERATIONS = 'portcullis_store_operations_total';
const SECONDS = 'portcullis_store_operation_seconds_count';

const config = (storage: Record<string, unknown>) => ({
  authentication: {
    required: true,
    session: { storage },
    methods: { token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } } },
  },
});

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function createToken(t: TestServer, name: string) {
  const answer = await t.fetch('/auth/v1/method/token', json({ name }));
  expect(answer.status).toBe(200);
  return (await answer.json()) as { clientToken: string; authentication: { id: string } };
}

describe('store operation metrics', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('counts and times the memory store’s operations by method; a not-found answer is not an error', async () => {
    const t = await serveForTest(config({ type: 'memory' }));
    // What start-up did (the token method's bootstrap token): the rest is counted from here.
    const before = await scrape(t.fetch);
    expect(value(before, OPERATIONS, { store: 'memory', operation: 'createAuthentication' })).toBe(1);
    const { clientToken, authentication } = await createToken(t, 'counted');
    expect((await t.fetch('/auth/v1/self', { headers: bearer(clientToken) })).status).toBe(200);
    expect((await t.fetch('/auth/v1/tokens', { headers: bearer(ADMIN) })).status).toBe(200);
    const missing = await t.fetch('/auth/v1/tokens/no-such-id', { headers: bearer(ADMIN) });
    expect(missing.status).toBe(404);
    expect(
      (await t.fetch(`/auth/v1/tokens/${authentication.id}`, { method: 'DELETE', headers: bearer(ADMIN) }))
        .status,
    ).toBe(200);

    const samples = await scrape(t.fetch);
    const memory = (operation: string, outcome: string) =>
      value(samples, OPERATIONS, { store: 'memory', operation, outcome }) -
      value(before, OPERATIONS, { store: 'memory', operation, outcome });
    expect(memory('createAuthentication', 'ok')).toBe(1);
    expect(memory('getAuthenticationByTokenHash', 'ok')).toBe(1);
    expect(memory('listAuthentications', 'ok')).toBe(1);
    // The one found, and the one not found: an answer, not a store error.
    expect(memory('getAuthenticationById', 'ok')).toBeGreaterThanOrEqual(1);
    expect(memory('deleteAuthentications', 'ok')).toBe(1);
    expect(value(samples, OPERATIONS, { store: 'memory', outcome: 'error' })).toBe(0);
    expect(value(samples, SECONDS, { store: 'memory', operation: 'createAuthentication' })).toBe(2);
    expect(value(samples, SECONDS, { store: 'memory' })).toBe(
      value(samples, OPERATIONS, { store: 'memory' }),
    );
    // Label values are method names: never a token or an id.
    const text = await (await t.fetch('/metrics')).text();
    expect(text).not.toContain(clientToken);
    expect(text).not.toContain(authentication.id);
  });

  it('counts a real Redis’s operations, and its errors while it is stopped', async () => {
    const t = await serveForTest(
      config({ type: 'redis', redis: { host: '127.0.0.1', port: redis.port, net_timeout: '500ms' } }),
    );
    const { clientToken } = await createToken(t, 'in-redis');
    expect((await t.fetch('/auth/v1/self', { headers: bearer(clientToken) })).status).toBe(200);
    let samples = await scrape(t.fetch);
    const redisOp = (operation: string, outcome: string) =>
      value(samples, OPERATIONS, { store: 'redis', operation, outcome });
    // The bootstrap token and this one.
    expect(redisOp('createAuthentication', 'ok')).toBe(2);
    const lookups = redisOp('getAuthenticationByTokenHash', 'ok');
    expect(lookups).toBeGreaterThanOrEqual(1);
    expect(value(samples, OPERATIONS, { store: 'redis', outcome: 'error' })).toBe(0);

    await redis.kill();
    try {
      // A credential no static token matches is looked up in the store, which cannot answer.
      const refused = await t.fetch('/auth/v1/self', { headers: bearer('not-a-known-token') });
      expect(refused.status).toBe(503);
      expect((await t.fetch('/auth/v1/method/token', json({ name: 'during-outage' }))).status).toBe(503);
    } finally {
      await redis.restart();
    }
    samples = await scrape(t.fetch);
    expect(redisOp('getAuthenticationByTokenHash', 'error')).toBe(1);
    expect(redisOp('createAuthentication', 'error')).toBe(1);
    expect(redisOp('createAuthentication', 'ok')).toBe(2);
    expect(value(samples, SECONDS, { store: 'redis', operation: 'createAuthentication' })).toBe(3);
  });

  it('counts ERR_NOT_FOUND as an answer (ok), and passes close, ready and setCredentials through uncounted', async () => {
    const metrics = new Metrics();
    const memory = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });
    const store = observeStore(memory, 'memory', metrics);
    await expect(store.expireAuthentication('missing', new Date())).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    expect(store.ready).toBeUndefined();
    await store.close();
    const samples = parseExposition((await metrics.exposition()).body);
    expect(
      value(samples, OPERATIONS, { operation: 'expireAuthentication', outcome: 'ok', store: 'memory' }),
    ).toBe(1);
    expect(value(samples, OPERATIONS, {})).toBe(1);
  });

  it('answers the lookup at once where the store does, counted as the lookup; one that throws is an error', async () => {
    const metrics = new Metrics();
    const memory = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });
    const store = observeStore(memory, 'memory', metrics);
    const { clientToken, authentication } = await store.createAuthentication({
      method: 'METHOD_TOKEN',
      metadata: {},
    });
    const found = lookUpTokenHash(store, hashClientToken(clientToken));
    expect(found).not.toBeInstanceOf(Promise);
    expect(found).toEqual(authentication);
    expect(lookUpTokenHash(store, 'unknown')).toBeUndefined();
    // A store whose lookup at once throws: the observed one throws too, counted as an error.
    const broken = Object.assign(new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 }), {
      getAuthenticationByTokenHash: async () => undefined,
    });
    answersAtOnce(broken.getAuthenticationByTokenHash, () => {
      throw new Error('broke');
    });
    expect(() => lookUpTokenHash(observeStore(broken, 'memory', metrics), 'x')).toThrow('broke');
    // A store whose lookup has no twin (Redis's, or one replaced): the observed lookup waits, and is counted once.
    const waiting = Object.assign(new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 }), {
      getAuthenticationByTokenHash: async () => undefined,
    });
    const pending = lookUpTokenHash(observeStore(waiting, 'memory', metrics), 'y');
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    const samples = parseExposition((await metrics.exposition()).body);
    const lookups = (outcome: string) =>
      value(samples, OPERATIONS, { operation: 'getAuthenticationByTokenHash', outcome, store: 'memory' });
    expect(lookups('ok')).toBe(3);
    expect(lookups('error')).toBe(1);
    expect(value(samples, SECONDS, { operation: 'getAuthenticationByTokenHash', store: 'memory' })).toBe(4);
  });
});
