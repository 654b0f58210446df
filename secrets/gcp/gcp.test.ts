/**
 * The gcp store's behaviour, against the local Secret Manager fake (a real gRPC server from the SDK's protos) with
 * the real SDK: each setting and environment knob, every error, and that nothing is left behind.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { watchResources } from '../../conformance/kit/handles.ts';
import { tempFiles } from '../../core/test-support/tmp.ts';
import {
  createRuntime,
  ErrorCodes,
  PluginError,
  type PortcullisError,
  type SecretContext,
} from '../../index.ts';
import type { GcpProviderConfig } from './config.ts';
import { ACCESS_SECRET_VERSION, type GcpFake, startGcpFake } from './fake.ts';
import gcp from './index.ts';
import {
  CALL_TIMEOUT_MS,
  clientSettings,
  EMULATOR_HOST_VARIABLE,
  emulatorAddress,
  secretVersionName,
} from './source.ts';

const VALUE = 'gcp-plain-value-R4nd0m';
const JSON_VALUE = JSON.stringify({ username: 'gcp-user-Q7', password: 'gcp-password-Z9' });
const SECRET_VALUES = [VALUE, JSON_VALUE, 'gcp-user-Q7', 'gcp-password-Z9'];

/** A context as the runtime makes one, with the log lines the store writes. */
function context(env: Readonly<Record<string, string | undefined>>): { ctx: SecretContext; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) }).child({
    plugin: 'gcp',
  });
  const ctx: SecretContext = {
    error: (code, message, options) => {
      throw new PluginError(code, message, { plugin: 'gcp', ...options });
    },
    log,
    fetch: globalThis.fetch,
    env,
    now: () => new Date(),
  };
  return { ctx, lines };
}

const block = (config: Partial<GcpProviderConfig>): GcpProviderConfig => ({ enabled: true, ...config });

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as PortcullisError,
  );

/** The client's google-gax, as the store takes it (grpc, GoogleAuth, google-auth-library). */
async function gax() {
  const { createRequire } = await import('node:module');
  const here = createRequire(import.meta.url);
  return createRequire(here.resolve('@google-cloud/secret-manager'))(
    'google-gax',
  ) as typeof import('google-gax');
}

/** A service account key file with a fresh key. */
function serviceAccountFile(extra: Record<string, unknown> = {}): { path: string; privateKey: string } {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = {
    type: 'service_account',
    project_id: 'key-project',
    private_key_id: 'key-id-1',
    private_key: privateKey,
    client_email: 'portcullis@key-project.iam.gserviceaccount.com',
    client_id: '1234',
    ...extra,
  };
  const dir = tempFiles({ 'key.json': JSON.stringify(key) });
  return { path: join(dir, 'key.json'), privateKey };
}

describe('gcp: configuration', () => {
  const validate = (config: Partial<GcpProviderConfig>) =>
    gcp.validate?.call(gcp, block(config), undefined as never) ?? [];

  it('project is required (as Flipt); location must be a location name, as it becomes part of a host name', () => {
    expect(validate({ project: 'p' })).toEqual([]);
    expect(validate({ project: 'p', location: 'us-central1' })).toEqual([]);
    expect(validate({})).toEqual([
      { path: ['project'], message: 'secrets.providers.gcp: project non-empty value is required' },
    ]);
    for (const location of ['evil.example.com/x', 'US-CENTRAL1', 'us central1', '-a']) {
      expect(validate({ project: 'p', location })).toEqual([
        {
          path: ['location'],
          message: expect.stringMatching(
            /^secrets\.providers\.gcp: location must be a Google Cloud location such as us-central1, got /,
          ),
        },
      ]);
    }
    expect(validate({ project: '${secret:file:p}', location: '${secret:file:l}' })).toEqual([]);
  });
});

describe('gcp: loading', () => {
  it('importing the plugin loads no SDK; create loads it', () => {
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /google|grpc/.test(k)).length;
      const { default: gcp } = await import(${JSON.stringify(fileURLToPath(new URL('./index.ts', import.meta.url)))});
      const before = loaded();
      const env = { SECRET_MANAGER_EMULATOR_HOST: '127.0.0.1:9' };
      const ctx = { env, log: { info() {}, child() { return this; } }, error() {}, fetch, now: () => new Date() };
      const source = await gcp.create(ctx, { enabled: true, project: 'p' });
      await source.close();
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const output = execFileSync(
      process.execPath,
      [
        '--experimental-strip-types',
        '--disable-warning=ExperimentalWarning',
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
    );
    const { before, after } = JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
    expect(before).toBe(0);
    expect(after).toBeGreaterThan(0);
  });
});

describe('gcp: how the client connects (no call is made)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('the global endpoint on 443 with application default credentials by default', async () => {
    const { options, connection } = await clientSettings(block({ project: 'p' }), {}, await gax());
    expect(options).toEqual({ apiEndpoint: 'secretmanager.googleapis.com', port: 443 });
    expect(connection).toEqual({ endpoint: 'secretmanager.googleapis.com:443', emulator: false });
  });

  it('location: the regional endpoint secretmanager.<location>.rep.googleapis.com:443, and regional names', async () => {
    const config = block({ project: 'p', location: 'europe-west1' });
    const { options, connection } = await clientSettings(config, {}, await gax());
    expect(options).toEqual({ apiEndpoint: 'secretmanager.europe-west1.rep.googleapis.com', port: 443 });
    expect(connection.endpoint).toBe('secretmanager.europe-west1.rep.googleapis.com:443');
    expect(secretVersionName(config, 'db')).toBe(
      'projects/p/locations/europe-west1/secrets/db/versions/latest',
    );
    expect(secretVersionName(block({ project: 'p' }), 'db')).toBe('projects/p/secrets/db/versions/latest');
    expect(secretVersionName(block({ project: 'p', location: '' }), 'db')).toBe(
      'projects/p/secrets/db/versions/latest',
    );
  });

  it('SECRET_MANAGER_EMULATOR_HOST from ctx.env: the emulator, insecure, never looking for credentials', async () => {
    const g = await gax();
    const { options, connection } = await clientSettings(
      block({ project: 'p', location: 'europe-west1', credentials: '/no/such/key.json' }),
      { [EMULATOR_HOST_VARIABLE]: 'localhost:8085' },
      g,
    );
    expect(options.apiEndpoint).toBe('localhost');
    expect(options.port).toBe(8085);
    expect(options.sslCreds).toBeInstanceOf(g.grpc.ChannelCredentials);
    expect(options.sslCreds?._isSecure()).toBe(false);
    expect(options.authClient).toBeUndefined();
    expect(options.auth).toBeInstanceOf(g.GoogleAuth);
    await expect(options.auth?.getClient()).rejects.toThrow(/without credentials/);
    expect(await options.auth?.getUniverseDomain()).toBe('googleapis.com');
    expect(connection).toEqual({ endpoint: 'localhost:8085', emulator: true });
  });

  it('the emulator address: host:port and [v6]:port; anything else is refused naming the variable', () => {
    expect(emulatorAddress({ [EMULATOR_HOST_VARIABLE]: '[::1]:9000' }, 's')).toEqual({
      host: '[::1]',
      port: 9000,
    });
    expect(emulatorAddress({ [EMULATOR_HOST_VARIABLE]: '' }, 's')).toBeUndefined();
    expect(emulatorAddress({}, 's')).toBeUndefined();
    for (const bad of ['localhost', 'localhost:0', 'localhost:99999', 'http://localhost:8085', 'a:b']) {
      const error = (() => {
        try {
          emulatorAddress({ [EMULATOR_HOST_VARIABLE]: bad }, 'gcp secret manager (project p)');
        } catch (thrown) {
          return thrown as PortcullisError;
        }
        throw new Error(`${bad} was accepted`);
      })();
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.message).toMatch(
        /^gcp secret manager \(project p\): SECRET_MANAGER_EMULATOR_HOST must be host:port/,
      );
    }
  });

  it('reads the emulator switch from ctx.env only, not process.env', async () => {
    vi.stubEnv(EMULATOR_HOST_VARIABLE, '127.0.0.1:1');
    const { connection } = await clientSettings(block({ project: 'p' }), {}, await gax());
    expect(connection.emulator).toBe(false);
  });

  it('credentials: a service account key file becomes the auth client (read at create, not its contents in any message)', async () => {
    const { path } = serviceAccountFile();
    const g = await gax();
    const { options } = await clientSettings(block({ project: 'p', credentials: path }), {}, g);
    expect(options.authClient).toBeInstanceOf(g.googleAuthLibrary.JWT);
    const jwt = options.authClient as InstanceType<typeof g.googleAuthLibrary.JWT>;
    expect(jwt.email).toBe('portcullis@key-project.iam.gserviceaccount.com');
    expect(jwt.keyId).toBe('key-id-1');
    expect(jwt.scopes).toEqual(['https://www.googleapis.com/auth/cloud-platform']);
    expect(options.keyFilename).toBeUndefined();
  });

  it('credentials: a missing file stops create naming the file', async () => {
    const missing = join(tempFiles({}), 'missing-key.json');
    const error = await rejection(
      Promise.resolve(gcp.create(context({}).ctx, block({ project: 'p', credentials: missing }))),
    );
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.message).toBe(
      `gcp secret manager (project p): reading credentials: stat ${missing}: no such file or directory`,
    );
  });

  it('credentials: a file that is not a service account key is refused naming the file, never quoting it', async () => {
    const { privateKey } = serviceAccountFile();
    const dir = tempFiles({
      'not-json': `not json ${privateKey}`,
      'user.json': JSON.stringify({ type: 'authorized_user', refresh_token: 'refresh-Secret-1' }),
      'no-email.json': JSON.stringify({ type: 'service_account', private_key: privateKey }),
      'bad-key.json': JSON.stringify({
        type: 'service_account',
        client_email: 'a@b',
        private_key: 'pk-Secret-2',
      }),
    });
    const cases: Array<[string, RegExp]> = [
      ['not-json', /is not JSON/],
      ['user.json', /is not a service account key \(type "authorized_user", expected "service_account"\)/],
      ['no-email.json', /has no client_email/],
      ['bad-key.json', /has a private_key that is not a PEM private key/],
    ];
    for (const [name, why] of cases) {
      const file = join(dir, name);
      const error = await rejection(
        Promise.resolve(gcp.create(context({}).ctx, block({ project: 'p', credentials: file }))),
      );
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.message).toMatch(why);
      expect(error.message).toContain(`credentials file "${file}"`);
      for (const secret of [privateKey.split('\n')[1] ?? '', 'refresh-Secret-1', 'pk-Secret-2']) {
        expect(error.message).not.toContain(secret);
      }
    }
  });

  it('create with a service account key and no emulator makes no call; close releases it', async () => {
    const { path } = serviceAccountFile();
    const source = await gcp.create(context({}).ctx, block({ project: 'p', credentials: path }));
    await source.close?.();
  });
});

describe('gcp: the store against the fake', () => {
  let fake: GcpFake;
  let regional: GcpFake;

  beforeAll(async () => {
    fake = await startGcpFake({ project: 'store-project' });
    regional = await startGcpFake({ project: 'store-project', location: 'us-central1' });
    for (const target of [fake, regional]) {
      target.set('plain', VALUE);
      target.set('creds', JSON_VALUE);
    }
  });
  afterAll(async () => {
    await fake.close();
    await regional.close();
  });
  afterEach(() => {
    fake.setDown(false);
    fake.failWith(undefined);
    fake.setStalled(false);
  });

  /** Opens the store on `target` (its config and env), runs `body`, closes it; returns the log lines. */
  async function withStore(
    target: GcpFake,
    body: (source: Awaited<ReturnType<typeof gcp.create>>) => Promise<void>,
    config: Partial<GcpProviderConfig> = {},
  ): Promise<string[]> {
    const { ctx, lines } = context(target.env);
    const source = await gcp.create(ctx, block({ ...target.config, ...config }));
    try {
      await body(source);
    } finally {
      await source.close?.();
    }
    return lines;
  }

  it('two-part: the whole value of the latest version; three-part: a field of its JSON', async () => {
    await withStore(fake, async (source) => {
      expect(await source.get('plain')).toBe(VALUE);
      expect(await source.get('creds')).toBe(JSON_VALUE);
      expect(await source.get('creds', 'username')).toBe('gcp-user-Q7');
      fake.set('rotated', 'old');
      fake.set('rotated', 'new');
      expect(await source.get('rotated')).toBe('new');
      fake.set('empty', '');
      expect(await source.get('empty')).toBe('');
    });
  });

  it('sends accessSecretVersion for projects/<project>/secrets/<path>/versions/latest, once, with a deadline', async () => {
    const before = fake.requests.length;
    await withStore(fake, async (source) => {
      await source.get('plain', undefined, { signal: new AbortController().signal });
    });
    const sent = fake.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.path).toBe(ACCESS_SECRET_VERSION);
    expect(JSON.parse(sent[0]?.body ?? '')).toEqual({
      name: 'projects/store-project/secrets/plain/versions/latest',
    });
    const deadline = Number(sent[0]?.headers['grpc-timeout']?.replace(/m$/, ''));
    expect(deadline).toBeGreaterThan(CALL_TIMEOUT_MS - 5000);
    expect(deadline).toBeLessThanOrEqual(CALL_TIMEOUT_MS);
    expect(sent[0]?.headers.authorization).toBeUndefined();
  });

  it('location: the regional resource name projects/<p>/locations/<l>/secrets/<path>/versions/latest', async () => {
    const before = regional.requests.length;
    await withStore(regional, async (source) => {
      expect(await source.get('creds', 'password')).toBe('gcp-password-Z9');
    });
    expect(JSON.parse(regional.requests[before]?.body ?? '')).toEqual({
      name: 'projects/store-project/locations/us-central1/secrets/creds/versions/latest',
    });
    // The same store without its location reads global secrets, which this fake does not hold.
    const error = await rejection(
      withStore(regional, (source) => source.get('creds').then(() => undefined), { location: undefined }),
    );
    expect(error.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
  });

  it('logs that it connects to the emulator, naming the host', async () => {
    const lines = await withStore(fake, async () => undefined);
    expect(lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({
        plugin: 'gcp',
        host: `127.0.0.1:${fake.port}`,
        msg: 'connecting to the gcp secret manager emulator',
      }),
    );
  });

  it('a missing secret, a missing key, a key of a non-JSON value: ERR_SECRET_NOT_FOUND naming the path and key', async () => {
    await withStore(fake, async (source) => {
      const missing = await rejection(source.get('no-such-secret'));
      expect(missing.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
      expect(missing.message).toBe(
        'secret "no-such-secret" not found in gcp secret manager (project store-project): ' +
          'projects/store-project/secrets/no-such-secret/versions/latest ' +
          '(5 NOT_FOUND: Secret [projects/store-project/secrets/no-such-secret] not found or has no versions.)',
      );
      const key = await rejection(source.get('creds', 'token'));
      expect(key.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
      expect(key.message).toBe('key "token" not found in secret at path "creds"');
      const notJson = await rejection(source.get('plain', 'username'));
      expect(notJson.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
      expect(notJson.message).toMatch(/secret at path "plain" is not a JSON object, so key "username"/);
    });
  });

  it('a path that is not a secret id is refused without a call', async () => {
    const before = fake.requests.length;
    await withStore(fake, async (source) => {
      for (const path of ['a/b', '../other', 'x/versions/1', 'dotted.name', '']) {
        const error = await rejection(source.get(path));
        expect(error.code).toBe(ErrorCodes.SECRET_REFERENCE_INVALID);
      }
    });
    expect(fake.requests.length).toBe(before);
  });

  it('a store that answers UNAVAILABLE: ERR_SECRET_PROVIDER naming the store and the cause, one attempt', async () => {
    fake.setDown(true);
    const before = fake.requests.length;
    await withStore(fake, async (source) => {
      const error = await rejection(source.get('plain'));
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.message).toBe(
        `gcp secret manager (project store-project) at 127.0.0.1:${fake.port}: unreachable ` +
          '(14 UNAVAILABLE: Secret Manager is down (fake))',
      );
    });
    expect(fake.requests.length).toBe(before + 1);
  });

  it('nothing listening: ERR_SECRET_PROVIDER unreachable, quickly (no retries)', async () => {
    const gone = await startGcpFake({ project: 'store-project' });
    await gone.close();
    const started = Date.now();
    await withStore(gone, async (source) => {
      const error = await rejection(source.get('plain'));
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.message).toMatch(
        new RegExp(
          `^gcp secret manager \\(project store-project\\) at 127\\.0\\.0\\.1:${gone.port}: unreachable \\(14 UNAVAILABLE`,
        ),
      );
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refused credentials (PERMISSION_DENIED, UNAUTHENTICATED): ERR_SECRET_PROVIDER saying so', async () => {
    await withStore(fake, async (source) => {
      fake.failWith(grpc.status.PERMISSION_DENIED, "Permission 'secretmanager.versions.access' denied");
      const denied = await rejection(source.get('plain'));
      expect(denied.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(denied.message).toBe(
        'gcp secret manager (project store-project): the credentials were refused for ' +
          "projects/store-project/secrets/plain/versions/latest (7 PERMISSION_DENIED: Permission 'secretmanager.versions.access' denied)",
      );
      fake.failWith(grpc.status.UNAUTHENTICATED, 'Request had invalid authentication credentials.');
      const unauthenticated = await rejection(source.get('plain'));
      expect(unauthenticated.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(unauthenticated.message).toMatch(
        /the credentials were refused .*\(16 UNAUTHENTICATED: Request had/,
      );
      fake.failWith(grpc.status.INTERNAL, 'boom');
      const other = await rejection(source.get('plain'));
      expect(other.message).toBe(
        `gcp secret manager (project store-project) at 127.0.0.1:${fake.port}: unexpected answer for ` +
          'projects/store-project/secrets/plain/versions/latest (13 INTERNAL: boom)',
      );
    });
  });

  it("timeout: the call is cancelled when the runtime's signal aborts, and nothing is left behind", async () => {
    fake.setStalled(true);
    // Warm up: the SDK's lazy singletons are not leaks.
    await withStore(fake, async (source) => {
      await rejection(source.get('plain', undefined, { signal: AbortSignal.timeout(50) }));
    });
    const watch = watchResources();
    try {
      await watch.checkFromNow();
      const started = Date.now();
      await withStore(fake, async (source) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(new Error('secrets.fetch_timeout (200ms) elapsed')), 200);
        const error = await rejection(source.get('plain', undefined, { signal: controller.signal }));
        expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
        expect(error.message).toBe(
          `gcp secret manager (project store-project) at 127.0.0.1:${fake.port}: the request for ` +
            'projects/store-project/secrets/plain/versions/latest was cancelled (secrets.fetch_timeout (200ms) elapsed)',
        );
      });
      expect(Date.now() - started).toBeLessThan(3000);
      await watch.assertNoneLeft('a cancelled get and close');
    } finally {
      watch.stop();
    }
  });

  it('an already aborted signal: rejected without a call', async () => {
    const before = fake.requests.length;
    await withStore(fake, async (source) => {
      const error = await rejection(source.get('plain', undefined, { signal: AbortSignal.abort() }));
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.message).toMatch(/was cancelled/);
    });
    expect(fake.requests.length).toBe(before);
  });

  it('no secret value in any message or log line', async () => {
    const texts: string[] = [];
    const lines = await withStore(fake, async (source) => {
      const attempts = [
        () => source.get('plain', 'username'),
        () => source.get('creds', 'missing'),
        () => source.get('missing'),
        () => {
          fake.failWith(grpc.status.PERMISSION_DENIED);
          return source.get('creds');
        },
        () => {
          fake.failWith(undefined);
          fake.setDown(true);
          return source.get('plain');
        },
      ];
      for (const attempt of attempts) {
        const error = await rejection(attempt());
        texts.push(error.message, String(error.stack));
      }
    });
    texts.push(...lines);
    for (const text of texts) {
      for (const value of SECRET_VALUES) expect(text).not.toContain(value);
    }
  });

  it("GOOGLE_SDK_NODE_LOGGING (the SDK's debug log of requests and answers) never shows a value", async () => {
    vi.stubEnv('GOOGLE_SDK_NODE_LOGGING', '*');
    const written: string[] = [];
    const capture = (...args: unknown[]) => {
      written.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
    };
    const spies = [
      vi.spyOn(console, 'error').mockImplementation(capture),
      vi.spyOn(console, 'log').mockImplementation(capture),
    ];
    try {
      await withStore(fake, async (source) => {
        expect(await source.get('plain')).toBe(VALUE);
      });
    } finally {
      for (const spy of spies) spy.mockRestore();
      vi.unstubAllEnvs();
    }
    const bytes = JSON.stringify([...Buffer.from(VALUE)]).slice(1, -1);
    for (const text of written) {
      expect(text).not.toContain(VALUE);
      expect(text).not.toContain(bytes);
      expect(text).not.toContain(Buffer.from(VALUE).toString('base64'));
    }
  });

  it('close: leaves no timer, socket or channel behind; a get after close is refused; close twice is fine', async () => {
    // Warm up the SDK's lazy singletons.
    await withStore(fake, async (source) => {
      await source.get('plain');
    });
    const watch = watchResources();
    try {
      await watch.checkFromNow();
      const { ctx } = context(fake.env);
      // Every store of this file on the fake was closed: a connection still open is one of them left behind.
      await vi.waitFor(async () => expect(await fake.openConnections()).toBe(0), { timeout: 2000 });
      const source = await gcp.create(ctx, block(fake.config));
      await source.get('plain');
      await source.get('creds', 'password');
      expect(await fake.openConnections()).toBe(1);
      await source.close?.();
      // grpc-js unrefs an idle channel, so the watch below cannot see one left open: the fake's side can.
      await vi.waitFor(async () => expect(await fake.openConnections()).toBe(0), { timeout: 2000 });
      await source.close?.();
      const closed = await rejection(source.get('plain'));
      expect(closed.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(closed.message).toBe('gcp secret manager (project store-project): the store is closed');
      // Never used: nothing was opened, close has nothing to do.
      await (await gcp.create(ctx, block(fake.config))).close?.();
      await watch.assertNoneLeft('create, get, close');
    } finally {
      watch.stop();
    }
  });

  it('resolves ${secret:gcp:…} in a runtime created with env pointing at the fake', async () => {
    const runtime = await createRuntime({
      object: {
        authentication: {
          methods: {
            token: {
              enabled: true,
              storage: {
                tokens: {
                  a: { credential: '${secret:gcp:plain}' },
                  b: { credential: '${secret:gcp:creds:password}' },
                },
              },
            },
          },
        },
        secrets: { providers: { gcp: { enabled: true, ...fake.config } } },
      },
      env: { ...fake.env },
      logDestination: { write: () => undefined },
    });
    try {
      const tokens = (
        runtime.config.authentication.methods.token as unknown as {
          storage: { tokens: Record<string, { credential: string }> };
        }
      ).storage.tokens;
      expect(tokens.a?.credential).toBe(VALUE);
      expect(tokens.b?.credential).toBe('gcp-password-Z9');
    } finally {
      await runtime.close();
    }
  });
});

describe('gcp: credentials file with the emulator', () => {
  it('is not used (as Flipt: the emulator is reached without authentication)', async () => {
    const fake = await startGcpFake({ project: 'p' });
    try {
      fake.set('x', 'y');
      const { ctx } = context(fake.env);
      const source = await gcp.create(ctx, block({ ...fake.config, credentials: '/no/such/key.json' }));
      try {
        expect(await source.get('x')).toBe('y');
      } finally {
        await source.close?.();
      }
    } finally {
      await fake.close();
    }
  });
});
