/**
 * Issue 16's acceptance, store by store, with real components: the `portcullis serve` CLI (a child process) and
 * the in-process server reading each cloud store through its real SDK, pointed at the store's local fake
 * (`secrets/<name>/fake.ts`).
 *
 * - a static token `credential: "${secret:<store>:…}"` authenticates with the value the fake holds, a wrong value
 *   is refused, and a missing secret stops start-up naming the reference and the store;
 * - the seed's own examples that use `${secret:vault:…}`, `${secret:aws:…}` and `${secret:gcp:…}` run against the
 *   fakes, unchanged but for the `secrets.providers` block that points them at the fakes;
 * - with `secrets.refresh_interval: 1s`, a token rotated in the store works (and the old one fails) within two
 *   intervals while concurrent requests see only 200s and 401s; a store that goes down keeps the last good value;
 * - nothing any run printed holds a secret value or a store credential.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startAwsFake } from '../secrets/aws/fake.ts';
import { startAzureFake } from '../secrets/azure/fake.ts';
import { startGcpFake } from '../secrets/gcp/fake.ts';
import { startVaultFake } from '../secrets/vault/fake.ts';
import { type CliResult, startServe } from './test-support/cli.ts';
import { concurrentLoad, eventually, sleep } from './test-support/load.ts';
import type { SecretStoreFake } from './test-support/secret-store-fake.ts';
import { bearer, serveForTest, type TestServer } from './test-support/server.ts';
import { tempDir } from './test-support/tmp.ts';

type StoreName = 'vault' | 'aws' | 'gcp' | 'azure';

interface StoreCase {
  readonly name: StoreName;
  readonly start: () => Promise<SecretStoreFake>;
  /**
   * The two-part reference to the secret `path`. On aws, gcp and azure it is the whole value; on vault it is the
   * key named like the path, which is what the fake's `set(path, text)` writes (`{ [path]: text }`).
   */
  readonly whole: (path: string) => string;
  /** The three-part reference to field `key` of the secret `path` (a JSON value; on vault the KV v2 data). */
  readonly field: (path: string, key: string) => string;
  /** The credentials the store is reached with, which must never be printed either. */
  readonly credentials: (fake: SecretStoreFake) => string[];
}

const STORES: readonly StoreCase[] = [
  {
    name: 'vault',
    start: () => startVaultFake(),
    whole: (path) => `\${secret:vault:${path}}`,
    field: (path, key) => `\${secret:vault:${path}:${key}}`,
    credentials: (fake) => [String(fake.config.token)],
  },
  {
    name: 'aws',
    start: () => startAwsFake(),
    whole: (path) => `\${secret:aws:${path}}`,
    field: (path, key) => `\${secret:aws:${path}:${key}}`,
    credentials: (fake) => [String(fake.env.AWS_SECRET_ACCESS_KEY)],
  },
  {
    name: 'gcp',
    start: () => startGcpFake(),
    whole: (path) => `\${secret:gcp:${path}}`,
    field: (path, key) => `\${secret:gcp:${path}:${key}}`,
    credentials: () => [],
  },
  {
    name: 'azure',
    start: () => startAzureFake(),
    whole: (path) => `\${secret:azure:${path}}`,
    field: (path, key) => `\${secret:azure:${path}:${key}}`,
    // The emulator credential (`fake-token`) is a public constant, as in Flipt: not a secret.
    credentials: () => [],
  },
];

/** Every secret value set in a fake and every store credential: none may appear in any output. */
const secretValues = new Set<string>();
/** Everything every run in this file printed (CLI stdout and stderr, in-process log lines). */
const outputs: string[] = [];

/** One fake of each store, shared by the whole file. */
const fakes = new Map<StoreName, SecretStoreFake>();

beforeAll(async () => {
  await Promise.all(
    STORES.map(async (store) => {
      const fake = await store.start();
      fakes.set(store.name, fake);
      for (const credential of store.credentials(fake)) secretValues.add(credential);
    }),
  );
});

afterAll(async () => {
  await Promise.all([...fakes.values()].map((fake) => fake.close()));
});

function fakeOf(name: StoreName): SecretStoreFake {
  const fake = fakes.get(name);
  if (fake === undefined) throw new Error(`the ${name} fake did not start`);
  return fake;
}

const secretValue = (label: string) => {
  const value = `${label}-${randomBytes(12).toString('hex')}`;
  secretValues.add(value);
  return value;
};

/** Stores `value` as the secret at `path` (remembered as a value no output may hold). */
function hold(fake: SecretStoreFake, path: string, value: string): void {
  secretValues.add(value);
  fake.set(path, value);
}

/** The block `secrets.providers.<name>` that points the store at its fake. */
const providerBlock = (name: StoreName) => ({ [name]: { enabled: true, ...fakeOf(name).config } });

/** A token-method configuration whose static tokens' credentials are `credentials` (name → reference). */
function tokensConfig(name: StoreName, credentials: Record<string, string>, secrets: object = {}) {
  const tokens = Object.fromEntries(
    Object.entries(credentials).map(([token, credential]) => [
      token,
      { credential, metadata: { name: token } },
    ]),
  );
  return {
    authentication: { required: true, methods: { token: { enabled: true, storage: { tokens } } } },
    secrets: { ...secrets, providers: providerBlock(name) },
  };
}

/** Writes `config` as a YAML file in a fresh folder. */
function configFile(config: object): string {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** The CLI's environment: the stores' own, and a free port on loopback (Flipt's environment overrides). */
const cliEnv = (...names: StoreName[]): Record<string, string> =>
  Object.assign(
    { FLIPT_SERVER_HOST: '127.0.0.1', FLIPT_SERVER_HTTP_PORT: '0' },
    ...names.map((name) => fakeOf(name).env),
  );

const keep = (result: CliResult) => {
  outputs.push(result.stdout, result.stderr);
  return result;
};

async function selfStatus(base: string, token: string): Promise<number> {
  return (await fetch(`${base}/auth/v1/self`, { headers: bearer(token) })).status;
}

async function selfName(base: string, token: string): Promise<unknown> {
  const response = await fetch(`${base}/auth/v1/self`, { headers: bearer(token) });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { metadata?: Record<string, unknown> };
  return body.metadata?.['io.flipt.auth.token.name'] ?? body.metadata?.name;
}

/** Starts `serve` on `file`, runs `use` against it, stops it and keeps what it printed. */
async function withServe(file: string, env: Record<string, string>, use: (base: string) => Promise<void>) {
  let served: Awaited<ReturnType<typeof startServe>>;
  try {
    served = await startServe(file, { env });
  } catch (error) {
    const result = (error as { result?: CliResult }).result;
    if (result !== undefined) keep(result);
    throw new Error(`serve did not start: ${result?.stdout ?? ''}${result?.stderr ?? ''}`);
  }
  try {
    await use(served.address);
  } finally {
    const result = keep(await served.stop());
    expect(result.stderr).toBe('');
  }
}

/** Requests with each token in turn, 8 at a time, until stopped. */
const load = (served: TestServer, tokens: readonly string[]) =>
  concurrentLoad(async (i) =>
    String(await selfStatus(served.server.address, tokens[i % tokens.length] as string)),
  );

/** What the tests measured (timings, request counts, outcomes), printed at the end when PORTCULLIS_SHOW_MEASURES is set. */
const measured: Record<string, unknown> = {};

describe.each(STORES)('$name store against its fake', (store) => {
  it('serve authenticates a static token with the value the fake holds (two- and three-part references); a wrong value is a 401; a missing secret stops start-up naming the reference and the store', async () => {
    const fake = fakeOf(store.name);
    const whole = secretValue(`${store.name}-whole`);
    const field = secretValue(`${store.name}-field`);
    hold(fake, 'portcullis-whole', whole);
    const json = JSON.stringify({ token: field, other: secretValue(`${store.name}-other`) });
    hold(fake, 'portcullis-json', json);
    fake.remove('portcullis-absent');

    const good = configFile(
      tokensConfig(store.name, {
        whole: store.whole('portcullis-whole'),
        field: store.field('portcullis-json', 'token'),
      }),
    );
    const absent = store.whole('portcullis-absent');
    const missing = configFile(tokensConfig(store.name, { whole: absent }));
    const before = fake.requests.length;
    const started = Date.now();

    const [, failed] = await Promise.all([
      withServe(good, cliEnv(store.name), async (base) => {
        measured[`${store.name}: serve listening after (ms)`] = Date.now() - started;
        expect(await selfName(base, whole)).toBe('whole');
        expect(await selfName(base, field)).toBe('field');
        expect(await selfStatus(base, `${whole}-wrong`)).toBe(401);
        expect(await selfStatus(base, json)).toBe(401);
        expect(await selfStatus(base, `${field}x`)).toBe(401);
      }),
      // startServe rather than runCli: were it to start, it is stopped instead of being left running.
      startServe(missing, { env: cliEnv(store.name) }).then(
        async (served) => {
          keep(await served.stop());
          throw new Error('serve started with a secret missing');
        },
        (error: { result: CliResult }) => {
          measured[`${store.name}: missing secret exits after (ms)`] = Date.now() - started;
          return keep(error.result);
        },
      ),
    ]);

    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`resolving secret reference "${absent}" (provider "${store.name}"`);
    expect(failed.stderr).toContain('authentication.methods.token.storage.tokens.whole.credential');
    const fatal = JSON.parse(failed.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(fatal).toMatchObject({
      level: 'fatal',
      code: 'ERR_SECRET_RESOLUTION',
      failures: [expect.objectContaining({ reference: absent, provider: store.name })],
    });
    // The values came from the fake: both runs asked it for each secret they name.
    const asked = fake.requests.slice(before).map((request) => `${request.path} ${request.body}`);
    measured[`${store.name}: requests to the fake (serve + missing)`] = asked.length;
    for (const path of ['portcullis-whole', 'portcullis-json', 'portcullis-absent']) {
      expect(asked.some((request) => request.includes(path))).toBe(true);
    }
  });

  it('refresh_interval 1s: a rotated token works and the old one fails within two intervals under 8 concurrent workers (only 200s and 401s); down keeps the last good value; back up, a new change applies', async () => {
    const fake = fakeOf(store.name);
    const path = 'portcullis-rotating';
    const reference = store.whole(path);
    const first = secretValue(`${store.name}-first`);
    const second = secretValue(`${store.name}-second`);
    const third = secretValue(`${store.name}-third`);
    hold(fake, path, first);
    const served = await serveForTest(
      tokensConfig(store.name, { rotating: reference }, { refresh_interval: '1s' }),
      { env: { ...fake.env } },
    );
    try {
      const status = (token: string) => selfStatus(served.server.address, token);
      expect(await status(first)).toBe(200);
      expect(await status(second)).toBe(401);

      // Rotation under load.
      const traffic = load(served, [first, second]);
      await sleep(300);
      hold(fake, path, second);
      const rotated = await eventually(
        async () => (await status(second)) === 200 && (await status(first)) === 401,
        2_000,
        'the rotated token works and the old one fails',
      );
      await sleep(300);
      const rotation = await traffic.stop();
      measured[`${store.name}: rotation seen after (ms)`] = rotated;
      measured[`${store.name}: outcomes under load during rotation`] = rotation;
      expect(rotated).toBeLessThan(2_000);
      expect(Object.keys(rotation).sort()).toEqual(['200', '401']);
      expect(rotation['200']).toBeGreaterThan(10);
      expect(rotation['401']).toBeGreaterThan(10);
      const changes = served.logs.filter((line) => line.msg === 'secret changed; now in use');
      expect(changes).toEqual([expect.objectContaining({ level: 'info', reference, provider: store.name })]);

      // The store goes down: the last good value stays in use, the server stays up, a warning names the reference.
      const asked = fake.requests.length;
      const downAt = Date.now();
      fake.setDown(true);
      const outage = load(served, [second, first]);
      const warned = await eventually(
        async () =>
          served.logs.some(
            (line) =>
              line.msg === 'secret refresh failed; the last good value stays in use' &&
              line.reference === reference,
          ),
        15_000,
        'a warning names the reference',
      );
      const duringOutage = await outage.stop();
      measured[`${store.name}: warning while down after (ms)`] = warned;
      measured[`${store.name}: outcomes under load while down`] = duringOutage;
      expect(Object.keys(duringOutage).sort()).toEqual(['200', '401']);
      expect(fake.requests.length).toBeGreaterThan(asked);
      expect(await status(second)).toBe(200);
      expect(await status(first)).toBe(401);
      expect((await served.fetch('/health')).status).toBe(200);
      const warning = served.logs.find(
        (line) =>
          line.msg === 'secret refresh failed; the last good value stays in use' &&
          line.reference === reference,
      );
      expect(warning).toMatchObject({ level: 'warn', reference, provider: store.name });
      expect(String(warning?.reason)).toContain(store.name);
      measured[`${store.name}: warning reason`] = warning?.reason;

      // Back up: the next change applies.
      fake.setDown(false);
      hold(fake, path, third);
      const recovered = await eventually(
        async () => (await status(third)) === 200 && (await status(second)) === 401,
        12_000,
        'after the store is back, the new value works',
      );
      measured[`${store.name}: change after recovery seen after (ms)`] = recovered;
      measured[`${store.name}: down for (ms)`] = Date.now() - downAt - recovered;
      expect(served.logs.filter((line) => line.msg === 'secret changed; now in use')).toHaveLength(2);
    } finally {
      outputs.push(...served.logs.map((line) => JSON.stringify(line)));
    }
  });
});

describe("the seed's examples against the fakes", () => {
  const EXAMPLES = join(import.meta.dirname, '..', 'schema', 'examples', 'valid');

  /** The example's text unchanged, followed by the `secrets.providers` blocks of `stores`. */
  function exampleWithStores(example: string, stores: StoreName[]): string {
    const text = readFileSync(join(EXAMPLES, example), 'utf8');
    expect(text).not.toMatch(/^secrets:/m);
    const providers = Object.assign({}, ...stores.map(providerBlock));
    const file = join(tempDir(), example);
    writeFileSync(file, `${text}\n${stringify({ secrets: { providers } })}`);
    return file;
  }

  it('seed-10 (vault flipt/tokens, keys ci-token and dev-token): both tokens authenticate', async () => {
    const vault = fakeOf('vault');
    const ci = secretValue('seed10-ci');
    const dev = secretValue('seed10-dev');
    hold(vault, 'flipt/tokens', JSON.stringify({ 'ci-token': ci, 'dev-token': dev }));
    await withServe(
      exampleWithStores('seed-10-token-secret-vault.yaml', ['vault']),
      cliEnv('vault'),
      async (base) => {
        expect(await selfName(base, ci)).toBe('CI Pipeline Token');
        expect(await selfName(base, dev)).toBe('Development Token');
        expect(await selfStatus(base, `${ci}-not`)).toBe(401);
      },
    );
  });

  it('seed-11 (aws ci-token, gcp dev-token): both tokens authenticate', async () => {
    const ci = secretValue('seed11-ci');
    const dev = secretValue('seed11-dev');
    hold(fakeOf('aws'), 'ci-token', ci);
    hold(fakeOf('gcp'), 'dev-token', dev);
    await withServe(
      exampleWithStores('seed-11-token-secret-cloud.yaml', ['aws', 'gcp']),
      cliEnv('aws', 'gcp'),
      async (base) => {
        expect(await selfName(base, ci)).toBe('CI Pipeline Token');
        expect(await selfName(base, dev)).toBe('Development Token');
        expect(await selfStatus(base, dev.replace('dev', 'ci'))).toBe(401);
      },
    );
  });
});

describe('what every run printed', () => {
  it('holds no secret value set in a fake, no Vault token and no AWS secret key', () => {
    // Four stores × (serve, its stop, the missing-secret run, a server's log lines) and the two seed runs.
    expect(outputs.length).toBeGreaterThan(4 * 5 + 4);
    expect(secretValues.size).toBeGreaterThan(4 * 6);
    const everything = outputs.join('\n');
    const found = [...secretValues].filter((value) => everything.includes(value));
    expect(found).toEqual([]);
    if (process.env.PORTCULLIS_SHOW_MEASURES) console.log(JSON.stringify(measured, null, 2));
  });
});
