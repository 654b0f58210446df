/**
 * `portcullis serve` processes on a real redis-server: shared state between instances, an outage under load, and
 * start-up while Redis is down.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Served, startServe } from '../test-support/cli.ts';
import { freePort } from '../test-support/ports.ts';
import { type RedisServer, startRedis } from '../test-support/redis.ts';
import { tempFiles } from '../test-support/tmp.ts';

const ADMIN = 'admin-secret-credential';

function writeConfig(dir: string, redisPort: number, redis: Record<string, unknown> = {}): string {
  const file = join(dir, `config-${redisPort}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
      log: { level: 'info' },
      authentication: {
        required: true,
        session: {
          storage: {
            type: 'redis',
            redis: { host: '127.0.0.1', port: redisPort, net_timeout: '500ms', ...redis },
          },
        },
        methods: { token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } } },
      },
    }),
  );
  return file;
}

const call = (served: Served, path: string, token: string, init: RequestInit = {}) =>
  fetch(`${served.address}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5_000),
  });

async function createToken(served: Served, name: string) {
  const response = await call(served, '/auth/v1/method/token', ADMIN, {
    method: 'POST',
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { clientToken: string; authentication: { id: string } };
}

describe('serve on a shared Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ persistent: true });
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('shares authentications between two instances: created on A works on B; deleted on B fails on A at once', async () => {
    const config = writeConfig(tempFiles({}), redis.port);
    const a = await startServe(config);
    const b = await startServe(config);
    try {
      const { clientToken, authentication } = await createToken(a, 'shared');
      expect((await call(b, '/auth/v1/self', clientToken)).status).toBe(200);
      expect(
        (await call(b, `/auth/v1/tokens/${authentication.id}`, ADMIN, { method: 'DELETE' })).status,
      ).toBe(200);
      const refused = await call(a, '/auth/v1/self', clientToken);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({
        code: 16,
        message: 'request was not authenticated',
        details: [],
      });
      // One bootstrap token between them.
      const bootstraps = [a, b].filter((s) => s.stdout().includes('"msg":"access token created"'));
      expect(bootstraps.length).toBeLessThanOrEqual(1);
    } finally {
      expect((await a.stop()).code).toBe(0);
      expect((await b.stop()).code).toBe(0);
    }
  });

  it('answers 200 or 503 (never 500, never late) while Redis is killed and restarted, and recovers', async () => {
    const served = await startServe(writeConfig(tempFiles({}), redis.port));
    try {
      const { clientToken } = await createToken(served, 'before-the-outage');
      const results: Array<{ status: number | string; ms: number; at: number; kind: 'stored' | 'static' }> =
        [];
      const started = Date.now();
      let running = true;
      const loop = async (kind: 'stored' | 'static') => {
        while (running) {
          const t0 = Date.now();
          const status = await call(served, '/auth/v1/self', kind === 'stored' ? clientToken : ADMIN).then(
            (r) => r.status,
            (error: Error) => error.name,
          );
          results.push({ status, ms: Date.now() - t0, at: t0 - started, kind });
          await sleep(20);
        }
      };
      const loops = [loop('stored'), loop('stored'), loop('stored'), loop('static')];

      await sleep(1_000);
      await redis.kill('SIGKILL');
      const killedAt = Date.now() - started;
      await sleep(500);
      const health = (await (await fetch(`${served.address}/health`)).json()) as { store: string };
      await sleep(1_000);
      await redis.restart();
      const restartedAt = Date.now() - started;
      await sleep(4_000);
      running = false;
      await Promise.all(loops);

      expect(health).toEqual({ status: 'SERVING', store: 'unavailable' });
      expect(new Set(results.map((r) => r.status))).toEqual(new Set([200, 503]));
      expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(2_500);
      expect(results.filter((r) => r.kind === 'static').every((r) => r.status === 200)).toBe(true);
      const outage = results.filter(
        (r) => r.kind === 'stored' && r.at > killedAt + 100 && r.at < restartedAt,
      );
      expect(outage.length).toBeGreaterThan(0);
      expect(outage.every((r) => r.status === 503)).toBe(true);
      const recovered = results.filter((r) => r.kind === 'stored' && r.at > restartedAt + 2_500);
      expect(recovered.length).toBeGreaterThan(0);
      expect(recovered.every((r) => r.status === 200)).toBe(true);

      const unavailable = results.find((r) => r.status === 503);
      expect(unavailable).toBeDefined();
      expect(served.child.exitCode).toBeNull();
      expect(((await (await fetch(`${served.address}/health`)).json()) as { store: string }).store).toBe(
        'ready',
      );
    } finally {
      expect((await served.stop()).code).toBe(0);
    }
  }, 30_000);

  it("answers 503 in Flipt's shape when the store is down", async () => {
    const own = await startRedis();
    const served = await startServe(writeConfig(tempFiles({}), own.port));
    try {
      const { clientToken } = await createToken(served, 'x');
      await own.kill();
      await sleep(200);
      const response = await call(served, '/auth/v1/self', clientToken);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        code: 14,
        message: 'authentication store unavailable',
        details: [],
      });
    } finally {
      await served.stop();
    }
  });

  it('waits for Redis at start-up, retrying and saying so, then gives up with exit 1', async () => {
    const port = await freePort();
    const config = writeConfig(tempFiles({}), port, { startup_timeout: '1500ms' });
    const started = Date.now();
    const result = await runCli(['serve', '--config', config]);
    const elapsed = Date.now() - started;
    expect(result.code).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(10_000);
    expect(result.stderr).toMatch(
      new RegExp(`^redis at 127\\.0\\.0\\.1:${port} did not become ready within 1500 ms: .*ECONNREFUSED`),
    );
    const logs = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string });
    expect(logs.filter((l) => l.msg === 'reconnecting to redis').length).toBeGreaterThanOrEqual(2);
    expect(logs.at(-1)).toMatchObject({ level: 'fatal', code: 'ERR_UNAVAILABLE' });
  });
});
