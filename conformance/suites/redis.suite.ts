import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../core/test-support/load.ts';
import { type SuiteNetwork, suiteNetwork } from './support/containers.ts';
import { type Portcullis, startPortcullis } from './support/portcullis.ts';
import { type RedisNode, startRedis, startRedisCluster } from './support/redis.ts';
import { step } from './support/step.ts';

/** portcullis with the token method and its authentications in Redis at `host:6379`, in `mode`. */
const config = (host: string, mode: 'single' | 'cluster') => `
authentication:
  required: true
  session:
    storage:
      type: redis
      redis:
        mode: ${mode}
        host: ${host}
        port: 6379
  methods:
    token:
      enabled: true
server:
  host: 0.0.0.0
  http_port: 8080
log:
  level: info
`;

const UNAUTHENTICATED = { code: 16, message: 'request was not authenticated', details: [] };
const UNAVAILABLE = { code: 14, message: 'authentication store unavailable', details: [] };

interface Created {
  readonly clientToken: string;
  readonly authentication: { readonly id: string };
}
interface Self {
  readonly id: string;
  readonly method: string;
}
interface TokenList {
  readonly authentications: ReadonlyArray<{ readonly id: string; readonly metadata: Record<string, string> }>;
}

const call = (portcullis: Portcullis, path: string, token: string, init: RequestInit = {}) =>
  fetch(`${portcullis.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
  });

/** Reads a response as JSON, saying which request it answered and what came when the status is not `status`. */
async function expectJson<T>(response: Response, status: number, what: string): Promise<T> {
  const text = await response.text();
  if (response.status !== status)
    throw new Error(`${what}: expected ${status}, got ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function createToken(portcullis: Portcullis, bootstrap: string, name: string): Promise<Created> {
  const response = await call(portcullis, '/auth/v1/method/token', bootstrap, {
    method: 'POST',
    body: JSON.stringify({ name, description: 'conformance redis' }),
  });
  return expectJson<Created>(response, 200, `POST /auth/v1/method/token on ${portcullis.internalUrl}`);
}

async function deleteToken(portcullis: Portcullis, bootstrap: string, id: string): Promise<void> {
  const response = await call(portcullis, `/auth/v1/tokens/${id}`, bootstrap, { method: 'DELETE' });
  await expectJson<unknown>(response, 200, `DELETE /auth/v1/tokens/${id} on ${portcullis.internalUrl}`);
}

async function self(portcullis: Portcullis, token: string): Promise<Self> {
  return expectJson<Self>(
    await call(portcullis, '/auth/v1/self', token),
    200,
    `GET /auth/v1/self on ${portcullis.internalUrl}`,
  );
}

async function expectRefused(portcullis: Portcullis, token: string): Promise<void> {
  const response = await call(portcullis, '/auth/v1/self', token);
  expect(await expectJson<unknown>(response, 401, `GET /auth/v1/self on ${portcullis.internalUrl}`)).toEqual(
    UNAUTHENTICATED,
  );
}

/** The names of the bootstrap tokens the store holds, as listed through `portcullis`. */
async function bootstrapTokens(portcullis: Portcullis, bootstrap: string): Promise<string[]> {
  const list = await expectJson<TokenList>(
    await call(portcullis, '/auth/v1/tokens', bootstrap),
    200,
    `GET /auth/v1/tokens on ${portcullis.internalUrl}`,
  );
  return list.authentications
    .filter((entry) => entry.metadata['io.flipt.auth.token.name'] === 'initial_bootstrap_token')
    .map((entry) => entry.id);
}

describe('redis: two portcullis on one Redis', () => {
  let network: SuiteNetwork;
  let redis: RedisNode;
  let a: Portcullis;
  let b: Portcullis;
  let bootstrap: string;
  let created: Created;

  beforeAll(async () => {
    network = await suiteNetwork('redis-shared');
    redis = await startRedis(network, 'redis');
    a = await startPortcullis(network, config('redis', 'single'), { alias: 'portcullis-a' });
    bootstrap = await a.bootstrapToken();
    // B starts only once A has stored its bootstrap token, which B must then find rather than make a second one.
    b = await startPortcullis(network, config('redis', 'single'), { alias: 'portcullis-b' });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), redis?.stop()]);
    await network?.remove();
  });

  it('B finds the bootstrap token A generated, and makes no second one', async () => {
    await step('the bootstrap token on B', async () => {
      expect((await self(b, bootstrap)).method).toBe('METHOD_TOKEN');
    });
    await step("B's log", async () => {
      const made = b.logLines().filter((line) => String(line.msg).startsWith('access token created'));
      expect(made, 'B logged a bootstrap token of its own').toEqual([]);
    });
    await step('the bootstrap tokens listed on B', async () => {
      expect(await bootstrapTokens(b, bootstrap)).toHaveLength(1);
    });
  });

  it("authenticates on B a token created on A, kept in Redis in Flipt's key layout", async () => {
    created = await step('create the token on A', () => createToken(a, bootstrap, 'shared'));
    await step('the token on B', async () => {
      expect((await self(b, created.clientToken)).id).toBe(created.authentication.id);
    });
    await step('the key in Redis', async () => {
      expect((await redis.cli('exists', `flipt:auth:id:${created.authentication.id}`)).trim()).toBe('1');
    });
  });

  it('refuses on A, at the very next request, a token deleted on B', async () => {
    await step('delete the token on B', () => deleteToken(b, bootstrap, created.authentication.id));
    // "At once": the first request to A after B's DELETE answered is refused; nothing is cached on A to wait out.
    await step('the next request on A', () => expectRefused(a, created.clientToken));
    await step('the token on B', () => expectRefused(b, created.clientToken));
    await step('the key in Redis', async () => {
      expect((await redis.cli('exists', `flipt:auth:id:${created.authentication.id}`)).trim()).toBe('0');
    });
  });
});

/** When a request was sent, relative to the Redis container's stop and start. */
const PHASES = ['before', 'stopping', 'down', 'starting', 'after'] as const;
type Phase = (typeof PHASES)[number];

describe('redis: stopped and started under load', () => {
  const CLIENTS = 4;
  let network: SuiteNetwork;
  let redis: RedisNode;
  let portcullis: Portcullis;
  let bootstrap: string;
  let tokens: Created[];

  beforeAll(async () => {
    network = await suiteNetwork('redis-restart');
    redis = await startRedis(network, 'redis');
    portcullis = await startPortcullis(network, config('redis', 'single'));
    bootstrap = await portcullis.bootstrapToken();
    tokens = [];
    for (let index = 0; index < CLIENTS; index++) {
      tokens.push(await createToken(portcullis, bootstrap, `load-${index}`));
    }
  });
  afterAll(async () => {
    await Promise.all([portcullis?.stop(), redis?.stop()]);
    await network?.remove();
  });

  it('answers only 200 or 503 while Redis stops and starts, and the tokens made before work again', async () => {
    await step("the Redis image's persistence", async () => {
      // The tokens survive the restart through the append-only file, which Redis loads at start when it is on (the
      // image turns it on; a stopped container keeps its /data).
      expect(await redis.cli('config', 'get', 'appendonly')).toMatch(/appendonly\s+yes/);
    });

    let phase: Phase = 'before';
    let running = true;
    const tally = Object.fromEntries(PHASES.map((name) => [name, {}])) as Record<
      Phase,
      Record<string, number>
    >;
    // The first few answers other than 200 or the store-unavailable 503, and how many there were in all.
    const unexpected: string[] = [];
    let unexpectedCount = 0;
    const note = (text: string) => {
      unexpectedCount++;
      if (unexpected.length < 10) unexpected.push(text);
    };
    const last: string[] = [];
    const startedAt = Date.now();
    let afterSince = 0;
    let firstAfter200 = 0;
    const clients = tokens.map(async ({ clientToken }, index) => {
      while (running) {
        const sentIn = phase;
        let outcome: string;
        try {
          const response = await fetch(`${portcullis.url}/auth/v1/self`, {
            headers: { authorization: `Bearer ${clientToken}` },
            signal: AbortSignal.timeout(10_000),
          });
          const body = await response.text();
          outcome = String(response.status);
          const wellFormed503 = response.status === 503 && body === JSON.stringify(UNAVAILABLE);
          if (response.status !== 200 && !wellFormed503) {
            note(`client ${index}, ${sentIn}, +${Date.now() - startedAt} ms: ${response.status} ${body}`);
          }
          if (response.status === 200 && sentIn === 'after' && firstAfter200 === 0)
            firstAfter200 = Date.now();
        } catch (error) {
          const cause = (error as Error & { cause?: Error }).cause;
          outcome = 'error';
          note(
            `client ${index}, ${sentIn}, +${Date.now() - startedAt} ms: ${(error as Error).message}` +
              (cause ? ` (${cause.message})` : ''),
          );
        }
        tally[sentIn][outcome] = (tally[sentIn][outcome] ?? 0) + 1;
        last[index] = outcome;
        // Light load: each client about 40 requests a second at most.
        await sleep(25);
      }
    });

    try {
      await sleep(500);
      phase = 'stopping';
      await step('stop the Redis container', () => redis.halt());
      phase = 'down';
      const downSince = Date.now();
      await step('GET /health while Redis is down', async () => {
        await sleep(500);
        const health = await fetch(`${portcullis.url}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: 'SERVING', store: 'unavailable' });
      });
      await sleep(2_000 - (Date.now() - downSince));
      phase = 'starting';
      await step('start the Redis container', () => redis.resume());
      phase = 'after';
      afterSince = Date.now();
      await step('every client answered 200 again', async () => {
        // The client retries with backoff of up to 2 s: give it a few of those, then keep the load on a while longer.
        const deadline = Date.now() + 15_000;
        while (!last.every((outcome) => outcome === '200') || (tally.after['200'] ?? 0) < 2 * CLIENTS) {
          // A wrong answer ends the wait: the next step says what it was.
          if (unexpectedCount > 0) return;
          if (Date.now() > deadline) throw new Error(`last answers ${last.join(', ')} 15 s after the start`);
          await sleep(50);
        }
        await sleep(500);
      });
    } finally {
      running = false;
      await Promise.all(clients);
      console.log(
        `redis restart under load, answers by phase: ${JSON.stringify(tally)}; first 200 ` +
          `${firstAfter200 === 0 ? 'never' : `${firstAfter200 - afterSince} ms`} after Redis answered PING again`,
      );
    }

    await step('the answers seen', async () => {
      expect(
        unexpected,
        `answers other than 200 or the store-unavailable 503 (${unexpectedCount} in all, the first 10 here)`,
      ).toEqual([]);
      expect(tally.down['503'] ?? 0, '503s while Redis was down').toBeGreaterThan(0);
      expect(tally.after['200'] ?? 0, '200s after Redis started again').toBeGreaterThan(0);
      expect(last, 'the last answer of each client').toEqual(Array(CLIENTS).fill('200'));
    });
    await step('the tokens created before the stop', async () => {
      for (const token of tokens)
        expect((await self(portcullis, token.clientToken)).id).toBe(token.authentication.id);
      expect((await self(portcullis, bootstrap)).method).toBe('METHOD_TOKEN');
    });
    await step('GET /health after the restart', async () => {
      expect(await (await fetch(`${portcullis.url}/health`)).json()).toEqual({
        status: 'SERVING',
        store: 'ready',
      });
    });
    await step("portcullis's log", async () => {
      // portcullis logs each refused decision at error level, so the 503s are there; anything else (an internal
      // error, a reply error from Redis) would be a fault the status codes alone might not show.
      const errors = portcullis.logLines().filter((line) => line.level === 'error' || line.level === 'fatal');
      const others = errors.filter(
        (line) =>
          !(
            line.msg === 'authentication decision' &&
            line.reason === 'unavailable' &&
            (line.err as { code?: unknown } | undefined)?.code === 'ERR_UNAVAILABLE'
          ),
      );
      expect(others, 'error lines other than the store being unavailable').toEqual([]);
      const refused = Object.values(tally).reduce((sum, counts) => sum + (counts['503'] ?? 0), 0);
      expect(errors.length, 'one error line per 503').toBe(refused);
    });
  });
});

describe('redis: a three-node cluster', () => {
  let network: SuiteNetwork;
  let nodes: RedisNode[];
  let first: Portcullis;
  let second: Portcullis;
  let bootstrap: string;

  beforeAll(async () => {
    network = await suiteNetwork('redis-cluster');
    nodes = await startRedisCluster(network, ['redis-1', 'redis-2', 'redis-3']);
    first = await startPortcullis(network, config('redis-1', 'cluster'), { alias: 'portcullis-1' });
    bootstrap = await first.bootstrapToken();
    // Seeded at another node: each learns the whole cluster from its seed.
    second = await startPortcullis(network, config('redis-2', 'cluster'), { alias: 'portcullis-2' });
  });
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop(), ...(nodes ?? []).map((node) => node.stop())]);
    await network?.remove();
  });

  it('creates, uses, lists, deletes and then refuses a token', async () => {
    const created = await step('create the token', () => createToken(first, bootstrap, 'cluster'));
    await step('the token on /auth/v1/self', async () => {
      expect((await self(first, created.clientToken)).id).toBe(created.authentication.id);
    });
    await step('the key in the cluster', async () => {
      // -c follows the MOVED redirect to whichever node holds the key's slot.
      const answer = await nodes[2]?.cli('-c', 'exists', `flipt:auth:id:${created.authentication.id}`);
      expect(answer?.trim()).toBe('1');
    });
    await step('GET /auth/v1/tokens', async () => {
      const list = await expectJson<TokenList>(
        await call(first, '/auth/v1/tokens', bootstrap),
        200,
        'GET /auth/v1/tokens',
      );
      expect(list.authentications.map((entry) => entry.id)).toContain(created.authentication.id);
    });
    await step('delete the token', () => deleteToken(first, bootstrap, created.authentication.id));
    await step('the deleted token', () => expectRefused(first, created.clientToken));
  });

  it('shares tokens between two portcullis seeded at different nodes', async () => {
    await step('the bootstrap tokens listed on the second', async () => {
      expect(await bootstrapTokens(second, bootstrap)).toHaveLength(1);
    });
    const created = await step('create the token on the first', () => createToken(first, bootstrap, 'both'));
    await step('the token on the second', async () => {
      expect((await self(second, created.clientToken)).id).toBe(created.authentication.id);
    });
    await step('delete the token on the second', () =>
      deleteToken(second, bootstrap, created.authentication.id),
    );
    await step('the next request on the first', () => expectRefused(first, created.clientToken));
  });
});
