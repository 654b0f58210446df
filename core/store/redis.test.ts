import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStorageConfig } from '../config/types.ts';
import { createLogger, SecretScrubber } from '../log.ts';
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '../test-support/redis.ts';
import { createTestCa } from '../test-support/tls.ts';
import { tempDirForSuite } from '../test-support/tmp.ts';
import { openRedisStore, redisKeys } from './redis.ts';
import { describeAuthenticationStore } from './store-harness.ts';

const log = createLogger({ level: 'fatal', encoding: 'json', keys: {} }, new SecretScrubber(), {
  write: () => true,
});

const defaults: RedisStorageConfig = {
  mode: 'single',
  host: '127.0.0.1',
  port: 6379,
  db: 0,
  require_tls: false,
  insecure_skip_tls: false,
  pool_size: 0,
  min_idle_conn: 0,
  conn_max_idle_time: 0,
  net_timeout: 1000,
  prefix: 'flipt',
  startup_timeout: 5000,
};

let prefixes = 0;
/**
 * Each harness test gets its own prefix, so tests never see each other's keys. The grace period is a day: Redis
 * removes an authentication's keys at expiry plus grace, and the harness looks at authentications expired an hour ago.
 */
const open = (config: Partial<RedisStorageConfig>, gracePeriodMs = 86_400_000) =>
  openRedisStore({ config: { ...defaults, ...config, prefix: `test${prefixes++}` }, gracePeriodMs, log });

/** Every key and value in the Redis server(s) the current test uses. */
let dumpAll: () => Promise<string> = async () => '';

describe('Redis', () => {
  let single: RedisServer;
  let cluster: RedisCluster;
  let tlsServer: RedisServer;
  let selfSigned: RedisServer;
  let ca: ReturnType<typeof createTestCa>;

  beforeAll(async () => {
    const dir = tempDirForSuite();
    ca = createTestCa(dir);
    const issued = ca.issue(['localhost', '127.0.0.1'], 'redis');
    const other = createTestCa(join(dir, 'other'), 'self-signed');
    const untrusted = other.issue(['localhost', '127.0.0.1'], 'untrusted');
    const servers = await Promise.all([
      startRedis(),
      startRedisCluster(3),
      startRedis({ tls: { certFile: issued.certFile, keyFile: issued.keyFile, caFile: ca.caFile } }),
      startRedis({ tls: { certFile: untrusted.certFile, keyFile: untrusted.keyFile, caFile: other.caFile } }),
    ]);
    [single, cluster, tlsServer, selfSigned] = servers;
    const targets: Array<{ port: number; tls?: { ca: string } }> = [
      ...[single, ...cluster.nodes].map((server) => ({ port: server.port })),
      { port: tlsServer.port, tls: { ca: ca.caPem } },
    ];
    dumpAll = async () => {
      const parts: string[] = [];
      for (const server of targets) {
        const raw = new Redis({
          host: '127.0.0.1',
          port: server.port,
          lazyConnect: true,
          ...(server.tls && { tls: server.tls }),
        });
        await raw.connect();
        for (const key of await raw.keys('*')) {
          const type = await raw.type(key);
          const value =
            type === 'hash'
              ? await raw.hgetall(key)
              : type === 'set'
                ? await raw.smembers(key)
                : await raw.get(key);
          parts.push(key, JSON.stringify(value));
        }
        raw.disconnect();
      }
      return parts.join('\n');
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all([single?.kill(), cluster?.kill(), tlsServer?.kill(), selfSigned?.kill()]);
  });

  describeAuthenticationStore('RedisStore, single node', {
    create: () => open({ port: single.port }),
    ordered: false,
    dump: () => dumpAll(),
  });

  describeAuthenticationStore('RedisStore, three-master cluster', {
    create: () => open({ mode: 'cluster', port: cluster.nodes[0]?.port ?? 0 }),
    ordered: false,
    dump: () => dumpAll(),
  });

  describeAuthenticationStore('RedisStore over TLS, CA from ca_cert_path', {
    create: () => open({ port: tlsServer.port, require_tls: true, ca_cert_path: ca.caFile }),
    ordered: false,
    dump: () => dumpAll(),
  });

  describeAuthenticationStore('RedisStore over TLS, CA from ca_cert_bytes', {
    create: () =>
      open({ port: tlsServer.port, require_tls: true, ca_cert_bytes: readFileSync(ca.caFile, 'utf8') }),
    ordered: false,
    dump: () => dumpAll(),
  });

  describe('expiry', () => {
    it('removes an authentication by itself when its grace period is over', async () => {
      const store = await open({ port: single.port }, 200);
      const { clientToken, authentication } = await store.createAuthentication({
        method: 'METHOD_OIDC',
        metadata: {},
        expiresAt: new Date(Date.now() + 200),
      });
      expect(await store.getAuthenticationByClientToken(clientToken)).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await store.getAuthenticationByClientToken(clientToken)).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await store.getAuthenticationByClientToken(clientToken)).toBeUndefined();
      expect(await store.getAuthenticationById(authentication.id)).toBeUndefined();
      expect((await store.listAuthentications({})).authentications).toEqual([]);
      await store.close();
    });
  });

  describe('client-token lookup', () => {
    it('is one script call on a single node, and the two plain commands where scripts are refused', async () => {
      const admin = new Redis({ host: '127.0.0.1', port: single.port });
      await admin.acl('SETUSER', 'noscripts', 'on', '>pw', '~*', '&*', '+@all', '-@scripting');
      const monitor = await admin.monitor();
      const seen: string[] = [];
      // What each command was, and whether a script ran it (MONITOR's source is `lua` then).
      monitor.on('monitor', (_time: string, args: string[], source: string) =>
        seen.push(`${source === 'lua' ? 'script: ' : ''}${String(args[0]).toLowerCase()}`),
      );
      const settled = () => new Promise((resolve) => setTimeout(resolve, 100));
      try {
        const store = await open({ port: single.port });
        const { clientToken, authentication } = await store.createAuthentication({
          method: 'METHOD_TOKEN',
          metadata: {},
        });
        await settled();
        seen.length = 0;
        expect(await store.getAuthenticationByClientToken(clientToken)).toEqual(authentication);
        expect(await store.getAuthenticationByClientToken('not-a-token')).toBeUndefined();
        await settled();
        // The first call loads the script (EVALSHA fails and is not shown; EVAL), the second finds it loaded.
        expect(seen.filter((command) => command !== 'client' && command !== 'info')).toEqual([
          'eval',
          'script: get',
          'script: hget',
          'evalsha',
          'script: get',
        ]);

        const refused = await open({ port: single.port, username: 'noscripts', password: 'pw' });
        const created = await refused.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
        expect(await refused.getAuthenticationByClientToken(created.clientToken)).toEqual(
          created.authentication,
        );
        expect(await refused.getAuthenticationByClientToken(created.clientToken)).toEqual(
          created.authentication,
        );
        expect(await refused.getAuthenticationByClientToken('not-a-token')).toBeUndefined();
        await Promise.all([store.close(), refused.close()]);
      } finally {
        monitor.disconnect();
        await admin.acl('DELUSER', 'noscripts');
        admin.disconnect();
      }
    });
  });

  describe('TLS verification', () => {
    it('refuses a certificate it cannot verify, and accepts it with insecure_skip_tls', async () => {
      await expect(
        open({ port: selfSigned.port, require_tls: true, ca_cert_path: ca.caFile, startup_timeout: 1000 }),
      ).rejects.toMatchObject({
        code: 'ERR_UNAVAILABLE',
        message: expect.stringContaining('did not become ready'),
      });
      const store = await open({ port: selfSigned.port, require_tls: true, insecure_skip_tls: true });
      const { clientToken } = await store.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
      expect(await store.getAuthenticationByClientToken(clientToken)).toBeDefined();
      await store.close();
    });
  });

  describe("Flipt's key layout", () => {
    it('writes what a Flipt server sharing the Redis reads, and reads what it writes', async () => {
      const store = await openRedisStore({
        config: { ...defaults, port: single.port, prefix: 'shared' },
        gracePeriodMs: 60_000,
        log,
      });
      const raw = new Redis({ host: '127.0.0.1', port: single.port });
      const keys = redisKeys('shared');
      try {
        const expiresAt = new Date(Date.now() + 3_600_000);
        const { clientToken, authentication } = await store.createAuthentication({
          method: 'METHOD_OIDC',
          expiresAt,
          metadata: { 'io.flipt.auth.oidc.email': 'mark@flipt.io' },
          extras: { provider: 'google', subject: 'mark', sessionId: 'sid-1', idToken: 'eyJ.x.y' },
        });
        const hash = await raw.hgetall(keys.id(authentication.id));
        expect(JSON.parse(hash.authentication as string)).toEqual({
          id: authentication.id,
          method: 'METHOD_OIDC',
          expiresAt: expiresAt.toISOString().replace('.000Z', 'Z'),
          createdAt: expect.stringMatching(/Z$/),
          updatedAt: expect.stringMatching(/Z$/),
          metadata: { 'io.flipt.auth.oidc.email': 'mark@flipt.io' },
        });
        expect(hash).toMatchObject({
          provider: 'google',
          sub: 'mark',
          session_id: 'sid-1',
          id_token: 'eyJ.x.y',
          expires_at: String(Math.floor(expiresAt.getTime() / 1000)),
        });
        expect(hash.token_hash).toMatch(/^[A-Za-z0-9_-]{43}=$/);
        expect(await raw.get(keys.token(hash.token_hash as string))).toBe(authentication.id);
        expect(await raw.sismember(keys.all, authentication.id)).toBe(1);
        expect(await raw.sismember(keys.method('METHOD_OIDC'), authentication.id)).toBe(1);
        const ttl = await raw.pttl(keys.id(authentication.id));
        expect(ttl).toBeGreaterThan(3_600_000 + 50_000);
        expect(ttl).toBeLessThanOrEqual(3_660_000);
        expect(await raw.pttl(keys.token(hash.token_hash as string))).toBeGreaterThan(3_600_000 + 50_000);
        expect(await store.getAuthenticationByClientToken(clientToken)).toEqual(authentication);

        // An entry as Go's protojson writes it: nanosecond timestamps, no metadata, no expiry.
        await raw.hset(keys.id('flipt-written'), {
          authentication:
            '{"id":"flipt-written", "method":"METHOD_TOKEN", "createdAt":"2026-08-22T10:00:00.123456789Z", "updatedAt":"2026-08-22T10:00:00.123456789Z"}',
          token_hash: 'TnOMpVY8Bs_QAYKZkz1Y2x3Yv5f2lz3Jm_bNxktVUL0=',
        });
        await raw.set(keys.token('TnOMpVY8Bs_QAYKZkz1Y2x3Yv5f2lz3Jm_bNxktVUL0='), 'flipt-written');
        expect(await store.getAuthenticationByClientToken('s3cr3t')).toEqual({
          id: 'flipt-written',
          method: 'METHOD_TOKEN',
          createdAt: new Date('2026-08-22T10:00:00.123Z'),
          updatedAt: new Date('2026-08-22T10:00:00.123Z'),
          metadata: {},
        });

        await store.putChallenge('state-x', 'verifier.nonce', 120_000);
        expect(await raw.get(keys.challenge('state-x'))).toBe('verifier.nonce');
        expect(redisKeys('').all).toBe('auth:all');
      } finally {
        raw.disconnect();
        await store.close();
      }
    });
  });
});
