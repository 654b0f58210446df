import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCodes, PluginError } from './errors.ts';
import { Browser, formsOf, type Page } from './test-support/browser.ts';
import { signingKey, startTestProvider, type TestProvider } from './test-support/openid-provider.ts';
import { registryWith, testMethod } from './test-support/plugins.ts';
import { freePort, retryOnPortClash } from './test-support/ports.ts';
import { type RedisServer, startRedis } from './test-support/redis.ts';
import { bearer, serveForTest, type TestServer } from './test-support/server.ts';
import { tempDir } from './test-support/tmp.ts';
import { startUpstream } from './test-support/upstream.ts';

/**
 * What a rotated secret reaches, end to end over real HTTP: `secrets.refresh_interval` with a `file` store, each
 * value changed on disk as an operator (or the kubelet) would, atomically (a new file renamed over the old one).
 */

const INTERVAL = '300ms';
const CHANGED = 'secret changed; now in use';

/** A `file` store's folder; `write` replaces a secret atomically (never a half-written file for the watch to read). */
function secretFiles(initial: Record<string, string>) {
  const root = tempDir();
  let n = 0;
  const write = (name: string, value: string) => {
    n += 1;
    const staging = join(root, `.staging-${n}`);
    writeFileSync(staging, value);
    renameSync(staging, join(root, name));
  };
  for (const [name, value] of Object.entries(initial)) write(name, value);
  return { root, write };
}

const fileStore = (root: string) => ({
  refresh_interval: INTERVAL,
  providers: { file: { enabled: true, base_path: root } },
});

async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  withinMs: number,
  what: string,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const outcome = await check();
    if (outcome !== undefined && outcome !== false) return outcome;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not so within ${withinMs} ms`);
    await sleep(20);
  }
}

/** The "secret changed" lines naming `reference` so far. */
const changesOf = (t: TestServer, reference: string) =>
  t.logs.filter((line) => line.msg === CHANGED && line.reference === reference);

/** Waits for the `count`-th change of `reference` to be applied; returns how long that took. */
async function applied(t: TestServer, reference: string, count: number): Promise<number> {
  const started = Date.now();
  await eventually(
    async () => changesOf(t, reference).length >= count,
    3_000,
    `change ${count} of ${reference}`,
  );
  return Date.now() - started;
}

/** No captured log line contains any of `values` (raw, or as JSON would escape them). */
function expectNoValues(t: TestServer, values: readonly string[]) {
  const text = t.logs.map((line) => JSON.stringify(line)).join('\n');
  for (const value of values) {
    expect(text, 'a secret value in the logs').not.toContain(value);
    expect(text, 'a secret value in the logs').not.toContain(JSON.stringify(value).slice(1, -1));
  }
}

/** Warnings and errors logged, apart from the decision log's lines for refused requests (401s asked for). */
const problems = (t: TestServer) =>
  t.logs.filter(
    (line) => (line.level === 'error' || line.level === 'warn') && line.msg !== 'authentication decision',
  );

const ADMIN = 'rotation-admin-static-3c9d';

const selfStatus = async (t: TestServer, token: string) =>
  (await t.fetch('/auth/v1/self', { headers: bearer(token) })).status;

async function createToken(t: TestServer, name: string): Promise<{ status: number; token?: string }> {
  const response = await t.fetch('/auth/v1/method/token', {
    method: 'POST',
    headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (response.status !== 200) return { status: response.status };
  return { status: 200, token: ((await response.json()) as { clientToken: string }).clientToken };
}

const run = promisify(execFile);

/** A command on an admin connection of its own (redis-cli), authenticated with `password`. */
async function redisAdmin(redis: RedisServer, password: string | undefined, ...args: string[]) {
  const auth = password === undefined ? [] : ['-a', password, '--no-auth-warning'];
  const { stdout } = await run('redis-cli', ['-h', redis.host, '-p', String(redis.port), ...auth, ...args], {
    timeout: 10_000,
  });
  return stdout.trim();
}

/** The ids of the connections portcullis holds (its client names itself `portcullis`). */
async function portcullisConnections(redis: RedisServer, password: string): Promise<string[]> {
  const list = await redisAdmin(redis, password, 'CLIENT', 'LIST');
  return list
    .split('\n')
    .filter((line) => / name=portcullis /.test(line))
    .map((line) => /^id=(\d+)/.exec(line)?.[1] as string);
}

async function storeState(t: TestServer): Promise<string> {
  return ((await (await t.fetch('/health')).json()) as { store: string }).store;
}

describe('a rotated Redis password reaches the next connection', () => {
  const PW1 = 'redis-pw-one-5f0e2a91';
  const PW2 = 'redis-pw-two-b7c4d318';
  const PW3 = 'redis-pw-three-e2a6f047';
  const REF = '${secret:file:redis-password}';

  it('the file then a reconnect: same store, old sessions work, new ones are made; Redis first: warned, then healed by the file', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.kill());
    expect(await redisAdmin(redis, undefined, 'CONFIG', 'SET', 'requirepass', PW1)).toBe('OK');
    const files = secretFiles({ 'redis-password': PW1 });
    const t = await serveForTest({
      authentication: {
        required: true,
        session: {
          storage: {
            type: 'redis',
            redis: { host: redis.host, port: redis.port, password: REF, prefix: 'rotation-' },
          },
        },
        methods: { token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } } },
      },
      secrets: fileStore(files.root),
    });

    const first = await createToken(t, 'before-rotation');
    expect(first.status).toBe(200);
    const t1 = first.token as string;
    expect(await selfStatus(t, t1)).toBe(200);
    const [connection, ...others] = await portcullisConnections(redis, PW1);
    expect(others).toEqual([]);

    // 1. Redis and the file change; the connection already open stays authenticated.
    expect(await redisAdmin(redis, PW1, 'CONFIG', 'SET', 'requirepass', PW2)).toBe('OK');
    files.write('redis-password', PW2);
    const tookFile = await applied(t, REF, 1);
    // The store was kept: the same connection (no new one was opened for the new configuration) ...
    expect(await portcullisConnections(redis, PW2)).toEqual([connection]);
    // ... and the session made before the rotation still authenticates through it.
    expect(await selfStatus(t, t1)).toBe(200);

    // The next connection uses the new password.
    const killed = await redisAdmin(redis, PW2, 'CLIENT', 'KILL', 'TYPE', 'normal');
    expect(Number(killed)).toBeGreaterThanOrEqual(1);
    const reconnected = await eventually(
      async () => {
        const ids = await portcullisConnections(redis, PW2);
        return ids.length === 1 && ids[0] !== connection && (await storeState(t)) === 'ready' && ids;
      },
      5_000,
      'portcullis reconnected with the new password',
    );
    expect(reconnected).not.toContain(connection);
    const second = await createToken(t, 'after-rotation');
    expect(second.status).toBe(200);
    const t2 = second.token as string;
    expect(await selfStatus(t, t1)).toBe(200);
    expect(await selfStatus(t, t2)).toBe(200);

    // 2. Redis changes first: the file still holds the password Redis now refuses.
    const before = t.logs.length;
    expect(await redisAdmin(redis, PW2, 'CONFIG', 'SET', 'requirepass', PW3)).toBe('OK');
    await redisAdmin(redis, PW3, 'CLIENT', 'KILL', 'TYPE', 'normal');
    const warning = await eventually(
      async () =>
        t.logs
          .slice(before)
          .find((line) => line.msg === 'redis error' && /WRONGPASS/.test(String(line.reason))),
      5_000,
      'a warning that Redis refuses the password',
    );
    expect(warning).toMatchObject({ level: 'warn', store: 'redis' });
    // Refused for a while: the server stays up, says the store is unavailable, and answers 503 for stored tokens.
    for (let i = 0; i < 3; i++) {
      await sleep(300);
      const health = await t.fetch('/health');
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'SERVING', store: 'unavailable' });
      expect(await selfStatus(t, t1)).toBe(503);
      expect(await portcullisConnections(redis, PW3)).toEqual([]);
    }
    const refusals = t.logs.slice(before).filter((line) => line.msg === 'reconnecting to redis').length;
    expect(refusals).toBeGreaterThanOrEqual(2);

    // The file catches up: the reconnection loop picks the new password up by itself, no kill needed.
    const wrote = Date.now();
    files.write('redis-password', PW3);
    await applied(t, REF, 2);
    await eventually(async () => (await storeState(t)) === 'ready', 5_000, 'Redis accepts the new password');
    const healed = Date.now() - wrote;
    expect(await selfStatus(t, t1)).toBe(200);
    expect(await selfStatus(t, t2)).toBe(200);
    expect((await createToken(t, 'after-healing')).status).toBe(200);
    expect(await portcullisConnections(redis, PW3)).toHaveLength(1);

    // One info line per change, naming the reference; no value anywhere.
    expect(changesOf(t, REF)).toEqual([
      expect.objectContaining({
        level: 'info',
        provider: 'file',
        paths: ['authentication.session.storage.redis.password'],
      }),
      expect.objectContaining({ level: 'info', provider: 'file' }),
    ]);
    expectNoValues(t, [PW1, PW2, PW3]);
    console.info(
      `redis: file change applied in ${tookFile} ms; ${refusals} refused reconnections logged; healed ${healed} ms after the file changed`,
    );
  });
});

describe('a rotated Redis password whose configuration cannot start', () => {
  it('leaves the running store with the password it had (it was set for the next connection before the build failed)', async () => {
    const PW1 = 'redis-kept-pw-one-7c21';
    const PW2 = 'redis-kept-pw-two-9e84';
    const redis = await startRedis();
    onTestFinished(() => redis.kill());
    expect(await redisAdmin(redis, undefined, 'CONFIG', 'SET', 'requirepass', PW1)).toBe('OK');
    const files = secretFiles({ 'redis-password': PW1 });
    let refuse = false;
    const picky = testMethod(
      'picky',
      () => {
        if (refuse) throw new PluginError(ErrorCodes.PLUGIN_FAILED, 'refuses to start now');
        return {};
      },
      { properties: { enabled: { type: 'boolean' } } },
    );
    const t = await serveForTest(
      {
        authentication: {
          required: true,
          session: {
            storage: {
              type: 'redis',
              redis: {
                host: redis.host,
                port: redis.port,
                password: '${secret:file:redis-password}',
                prefix: 'kept-',
              },
            },
          },
          methods: { picky: { enabled: true }, token: { enabled: true } },
        },
        secrets: { refresh_interval: '200ms', providers: { file: { enabled: true, base_path: files.root } } },
      },
      { registry: registryWith(picky) },
    );
    refuse = true;
    files.write('redis-password', PW2);
    await eventually(
      async () =>
        t.logs.some((line) =>
          String(line.msg).startsWith('a secret changed but the configuration could not start'),
        ),
      3_000,
      'the change refused',
    );
    // Redis still wants PW1: the running store must reconnect with it.
    await redisAdmin(redis, PW1, 'CLIENT', 'KILL', 'TYPE', 'normal');
    await eventually(
      async () => (await storeState(t)) === 'ready',
      5_000,
      'the store reconnected with its password',
    );
    expect(await portcullisConnections(redis, PW1)).toHaveLength(1);
  });
});

describe('a rotated CSRF key reaches the next request', () => {
  const K1 = 'csrf-key-one-7a1c55e0';
  const K2 = 'csrf-key-two-0d93bb2f';
  const K3 = 'csrf-key-three-4e8f61a9';
  const REF = '${secret:file:csrf-key}';

  /** A state-changing request from an authenticated caller, with the browser's `Sec-Fetch-Site`. */
  const post = async (t: TestServer, site: 'cross-site' | 'same-origin') =>
    (
      await t.fetch('/auth/v1/method/token', {
        method: 'POST',
        headers: {
          ...bearer(ADMIN),
          'content-type': 'application/json',
          'sec-fetch-site': site,
          origin: site === 'cross-site' ? 'https://evil.example.com' : 'http://localhost',
        },
        body: JSON.stringify({ name: 'csrf' }),
      })
    ).status;

  /** Cross-site POSTs one after another, until stopped: the sequence of statuses. */
  function probe(t: TestServer) {
    const seen: number[] = [];
    let running = true;
    const loop = (async () => {
      while (running) seen.push(await post(t, 'cross-site'));
    })();
    return {
      async stop() {
        running = false;
        await loop;
        return seen;
      },
    };
  }

  it("the key's value judges nothing (Go's CrossOriginProtection has no key); a key emptied by a refresh is not taken, so protection stays on", async () => {
    const files = secretFiles({ 'csrf-key': K1 });
    const t = await serveForTest({
      authentication: {
        required: true,
        session: { domain: 'localhost', csrf: { key: REF } },
        methods: { token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } } },
      },
      secrets: fileStore(files.root),
    });
    expect(await post(t, 'same-origin')).toBe(200);
    expect(await post(t, 'cross-site')).toBe(403);

    // Another key: applied (logged), and no request is judged differently.
    files.write('csrf-key', K2);
    await applied(t, REF, 1);
    expect(await post(t, 'same-origin')).toBe(200);
    expect(await post(t, 'cross-site')).toBe(403);

    // An empty file (truncated, half-written): not a change but a failed fetch; protection never switches off.
    const traffic = probe(t);
    await sleep(150);
    files.write('csrf-key', '');
    await eventually(
      async () =>
        t.logs.some(
          (line) =>
            line.msg === 'secret refresh found an empty value; the last good value stays in use' &&
            line.reference === REF,
        ),
      3_000,
      'the empty value refused',
    );
    await sleep(400);
    const seen = await traffic.stop();
    expect(new Set(seen)).toEqual(new Set([403]));
    expect(changesOf(t, REF)).toHaveLength(1);

    // A key again: applied as any change.
    files.write('csrf-key', K3);
    await applied(t, REF, 2);
    expect(await post(t, 'cross-site')).toBe(403);
    expect(await post(t, 'same-origin')).toBe(200);

    expectNoValues(t, [K1, K2, K3]);
    console.info(`csrf: ${seen.length} cross-site probes while the key file was empty, all 403`);
  });
});

describe('a rotated OIDC client secret reaches the next login', () => {
  const S1 = 'oidc-secret-one-91be07c3';
  const S2 = 'oidc-secret-two-3f5a28d6';
  const REF = '${secret:file:oidc-secret}';

  async function setup() {
    const files = secretFiles({ 'oidc-secret': S1 });
    const keys = [await signingKey('key-1')];
    return retryOnPortClash(async () => {
      const port = await freePort();
      const base = `http://localhost:${port}`;
      let op: TestProvider;
      const startOp = async (secret: string, at?: number) => {
        op = await startTestProvider({
          clients: [
            {
              client_id: 'portcullis',
              client_secret: secret,
              redirect_uris: [`${base}/auth/v1/method/oidc/main/callback`],
            },
          ],
          keys,
          ...(at !== undefined && { port: at }),
        });
        const started = op;
        onTestFinished(() => started.close());
        return op;
      };
      op = await startOp(S1);
      const t = await serveForTest({
        server: { host: 'localhost', http_port: port },
        authentication: {
          required: true,
          session: { domain: 'localhost' },
          methods: {
            oidc: {
              enabled: true,
              providers: {
                main: {
                  issuer_url: op.issuer,
                  client_id: 'portcullis',
                  client_secret: REF,
                  redirect_address: base,
                  scopes: ['email'],
                },
              },
            },
          },
        },
        secrets: fileStore(files.root),
      });
      /** The provider, restarted on the same issuer with only `secret` valid for the client. */
      const rotateAtProvider = async (secret: string) => {
        const { port: opPort } = op;
        await op.close();
        await startOp(secret, opPort);
      };
      return { t, base, files, rotateAtProvider };
    });
  }

  const browser = () => {
    const created = new Browser();
    onTestFinished(() => created.close());
    return created;
  };

  /** Asks portcullis for the authorization URL (its state cookie set in `b`). */
  async function authorize(b: Browser, base: string): Promise<string> {
    const page = await b.request(`${base}/auth/v1/method/oidc/main/authorize`);
    expect(page.status).toBe(200);
    return (JSON.parse(page.body) as { authorizeUrl: string }).authorizeUrl;
  }

  /** Logs in at the provider's pages and requests portcullis' callback. */
  async function finish(b: Browser, url: string, user: string): Promise<Page> {
    const toCallback = (page: Page) => page.headers.get('location')?.includes('/callback?') === true;
    let page = await b.navigate(url, {}, toCallback);
    for (let step = 0; !toCallback(page) && step < 3; step++) {
      const [form] = formsOf(page);
      if (form === undefined) throw new Error(`no form at ${page.url} (${page.status})`);
      page = await b.submit(
        form,
        form.fields.prompt === 'login' ? { login: user, password: 'x' } : {},
        toCallback,
      );
    }
    return b.request(new URL(page.headers.get('location') ?? '', page.url).href);
  }

  const sessionCookie = (page: Page) =>
    page.headers.getSetCookie().some((cookie) => cookie.startsWith('flipt_client_token='));

  it('a login works with the old secret; after the rotation the next one works with the new, and earlier sessions stay', async () => {
    const { t, base, files, rotateAtProvider } = await setup();
    const before = browser();
    const login1 = await finish(before, await authorize(before, base), 'alice');
    expect(login1.status).toBe(302);
    expect(sessionCookie(login1)).toBe(true);
    expect((await before.request(`${base}/auth/v1/self`)).status).toBe(200);

    // A login begun before the rotation, finished after it.
    const spanning = browser();
    const spanningUrl = await authorize(spanning, base);

    // The provider takes only the new secret now; portcullis still sends the old one: the code exchange fails.
    await rotateAtProvider(S2);
    const refused = browser();
    const stale = await finish(refused, await authorize(refused, base), 'bob');
    expect(stale.status).toBe(401);
    expect(JSON.parse(stale.body)).toMatchObject({ message: 'callback: code exchange failed' });
    expect(sessionCookie(stale)).toBe(false);

    files.write('oidc-secret', S2);
    const took = await applied(t, REF, 1);

    const after = browser();
    const login2 = await finish(after, await authorize(after, base), 'carol');
    expect(login2.status).toBe(302);
    expect(sessionCookie(login2)).toBe(true);
    const me = await after.request(`${base}/auth/v1/self`);
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ metadata: { 'io.flipt.auth.oidc.sub': 'carol' } });

    // The session made before the rotation still works; so does the login that spanned it.
    const again = await before.request(`${base}/auth/v1/self`);
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ metadata: { 'io.flipt.auth.oidc.sub': 'alice' } });
    const spanned = await finish(spanning, spanningUrl, 'dave');
    expect(spanned.status).toBe(302);
    expect((await spanning.request(`${base}/auth/v1/self`)).status).toBe(200);

    expect(changesOf(t, REF)).toEqual([
      expect.objectContaining({
        level: 'info',
        paths: ['authentication.methods.oidc.providers.main.client_secret'],
      }),
    ]);
    expectNoValues(t, [S1, S2]);
    console.info(`oidc: the new client secret was in use ${took} ms after the file changed`);
  });
});

describe('nothing in flight fails because of a rotation', () => {
  const OLD = 'gateway-token-old-6d2e90b1';
  const NEW = 'gateway-token-new-a4c7f352';
  const NEWER = 'gateway-token-newer-18e5c9d7';
  const REF = '${secret:file:ci-token}';

  async function gateway() {
    const upstream = await startUpstream();
    const files = secretFiles({ 'ci-token': OLD });
    const t = await serveForTest({
      gateway: { upstream: upstream.url, timeout: '10s' },
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: REF } } } } },
      },
      secrets: fileStore(files.root),
    });
    return { t, upstream, files };
  }

  const slow = (t: TestServer, token: string, delay: number) =>
    t.fetch(`/work?delay=${delay}`, { headers: bearer(token) });

  it('requests let through before the swap finish with 200 on the old configuration, though their credential is now refused', async () => {
    const { t, upstream, files } = await gateway();
    const pending = Array.from({ length: 20 }, async () => {
      const response = await slow(t, OLD, 1_500);
      return { status: response.status, body: (await response.json()) as { ok: boolean }, at: Date.now() };
    });
    // All twenty authenticated under the old token and are at the upstream, which answers 1.5 s later.
    await eventually(async () => upstream.received.length >= 20, 3_000, 'twenty requests upstream');
    const swapStarted = Date.now();
    files.write('ci-token', NEW);
    await applied(t, REF, 1);
    expect((await slow(t, OLD, 0)).status).toBe(401);
    expect((await slow(t, NEW, 0)).status).toBe(200);
    const swapped = Date.now();
    const settled = await Promise.all(pending);
    expect(settled.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(settled.every((r) => r.body.ok)).toBe(true);
    // Every one of them was still in flight when the new configuration was already refusing their token.
    expect(settled.every((r) => r.at > swapped)).toBe(true);
    expect(upstream.received.slice(0, 20).every((r) => r.headers['x-auth-request-id'] === 'ci')).toBe(true);
    expect(problems(t)).toEqual([]);
    expectNoValues(t, [OLD, NEW]);
    console.info(
      `in flight: swap applied ${swapped - swapStarted} ms after the write; 20/20 slow requests answered 200`,
    );
  });

  it('under load through a rotation: only 200s and 401s, no error, and requests spanning the swap answered 200', async () => {
    const { t, files } = await gateway();
    const results: Array<{ token: string; status: string; start: number; end: number }> = [];
    let running = true;
    const worker = async (i: number) => {
      for (let n = i; running; n++) {
        const token = [NEW, NEWER][n % 2] as string;
        const start = Date.now();
        let status: string;
        try {
          status = String((await slow(t, token, 500)).status);
        } catch (error) {
          status = `error: ${(error as Error).message}`;
        }
        results.push({ token, status, start, end: Date.now() });
      }
    };
    // NEW is in use; rotate OLD → NEW first, unloaded, so the load exercises NEW → NEWER.
    files.write('ci-token', NEW);
    await applied(t, REF, 1);
    const workers = Array.from({ length: 16 }, (_, i) => worker(i));
    await sleep(700);
    files.write('ci-token', NEWER);
    await applied(t, REF, 2);
    const swapAt = Date.parse(String(changesOf(t, REF)[1]?.time));
    await sleep(1_200);
    running = false;
    await Promise.all(workers);

    const statuses = new Set(results.map((r) => r.status));
    expect([...statuses].sort()).toEqual(['200', '401']);
    // Requests with NEW that began well before the swap and ended after it: all 200, on the old configuration.
    const spanning = results.filter((r) => r.token === NEW && r.start < swapAt - 50 && r.end > swapAt);
    expect(spanning.length).toBeGreaterThan(5);
    expect(spanning.every((r) => r.status === '200')).toBe(true);
    // Requests that began well after it: judged by the new configuration only.
    const later = results.filter((r) => r.start > swapAt + 50);
    expect(later.length).toBeGreaterThan(5);
    expect(later.every((r) => r.status === (r.token === NEWER ? '200' : '401'))).toBe(true);
    expect(problems(t)).toEqual([]);
    expectNoValues(t, [OLD, NEW, NEWER]);
    const count = (s: string) => results.filter((r) => r.status === s).length;
    console.info(
      `load: ${results.length} requests (${count('200')} × 200, ${count('401')} × 401), ${spanning.length} spanning the swap, all 200`,
    );
  });
});
