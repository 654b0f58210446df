/**
 * Test support (not store code): the behaviour cases of the `aws` store that hold against any Secrets Manager,
 * run by `aws.test.ts` against the local fake and by `moto.test.ts` against `moto_server`.
 */
import { createServer } from 'node:net';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { ErrorCode, SecretSource } from '../../core/plugins/kit/index.ts';
import { ErrorCodes, PluginError } from '../../core/plugins/kit/index.ts';
import aws from './index.ts';

/** A Secrets Manager the cases can write to. */
export interface AwsBackend {
  readonly config: { readonly endpoint_url: string };
  readonly env: {
    readonly AWS_REGION: string;
    readonly AWS_ACCESS_KEY_ID: string;
    readonly AWS_SECRET_ACCESS_KEY: string;
  };
  /** Makes `value` the secret's AWSCURRENT SecretString (creating the secret when needed). */
  put(path: string, value: string): Promise<void>;
  /** Makes `bytes` the secret's AWSCURRENT SecretBinary. */
  putBinary(path: string, bytes: Uint8Array): Promise<void>;
}

/** A store's rejection, with the fields the cases check. */
export type Rejection = Error & { code?: ErrorCode; reason?: string };

/** What a promise rejected with; fails the test when it resolved. */
export const rejection = (promise: Promise<unknown>): Promise<Rejection> =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Rejection,
  );

/** Log lines a store wrote (JSON), for the no-secret checks. */
export interface OpenedStore {
  readonly source: SecretSource;
  readonly logLines: string[];
}

const opened: SecretSource[] = [];

/** Creates the store through the plugin contract, as the runtime does, with `env` as `ctx.env`. */
export async function openStore(
  env: Readonly<Record<string, string | undefined>>,
  config: { endpoint_url?: string } = {},
): Promise<OpenedStore> {
  const logLines: string[] = [];
  const logger = (bindings: Record<string, unknown>) => {
    const write =
      (level: string) =>
      (first: unknown, message?: string): void => {
        logLines.push(
          JSON.stringify({ level, ...bindings, ...(typeof first === 'object' ? first : {}), message }),
        );
        if (typeof first === 'string') logLines.push(JSON.stringify({ level, ...bindings, message: first }));
      };
    const log = {
      trace: write('trace'),
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      fatal: write('fatal'),
      child: (more: Record<string, unknown>) => logger({ ...bindings, ...more }),
    };
    return log;
  };
  const source = await aws.create(
    {
      error: (code, message, options) => {
        throw new PluginError(code, message, { plugin: 'aws', ...options });
      },
      log: logger({ plugin: 'aws' }),
      env,
      fetch,
      now: () => new Date(),
    },
    { enabled: true, ...config },
  );
  opened.push(source);
  return { source, logLines };
}

/** A port on 127.0.0.1 nothing listens on (taken, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Keeps the machine's AWS environment out of the tests: no region, profile, key or shared file of the host is
 * seen by the SDK, and its chain never asks the instance metadata service (no traffic leaves loopback). Cases that
 * need one of these stub it themselves. Also closes every store a case opened.
 */
export function isolateAwsEnvironment(): void {
  beforeEach(() => {
    for (const name of [
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'AWS_PROFILE',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_ENDPOINT_URL',
      'AWS_ENDPOINT_URL_SECRETS_MANAGER',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    ]) {
      vi.stubEnv(name, undefined);
    }
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/portcullis-aws-test/config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/portcullis-aws-test/credentials');
  });
  afterEach(async () => {
    for (const source of opened.splice(0)) await source.close?.();
    vi.unstubAllEnvs();
  });
}

/**
 * The cases that hold against any Secrets Manager `backend()` (called inside each case, once it has started).
 * `prefix` keeps the secrets of one run apart from another's in a shared store.
 */
export function behaviourCases(backend: () => AwsBackend, prefix = 'behaviour'): void {
  const at = (name: string) => `${prefix}/${name}`;
  const open = (env?: Record<string, string | undefined>) =>
    openStore(env ?? backend().env, backend().config).then((s) => s.source);

  it('two-part: returns the whole SecretString as it is (no trimming, JSON left as text)', async () => {
    await backend().put(at('plain'), '  s3cr3t value\n');
    await backend().put(at('json-whole'), '{"user":"u","password":"p"}');
    const source = await open();
    expect(await source.get(at('plain'))).toBe('  s3cr3t value\n');
    expect(await source.get(at('json-whole'))).toBe('{"user":"u","password":"p"}');
  });

  it('three-part: selects a field of a JSON SecretString (a number or boolean as its text)', async () => {
    await backend().put(at('db'), '{"user":"admin","port":5432,"tls":true,"nested":{"a":1}}');
    const source = await open();
    expect(await source.get(at('db'), 'user')).toBe('admin');
    expect(await source.get(at('db'), 'port')).toBe('5432');
    expect(await source.get(at('db'), 'tls')).toBe('true');
    const nested = await rejection(source.get(at('db'), 'nested'));
    expect(nested.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
  });

  it('reads a SecretBinary as UTF-8 text, and selects its fields', async () => {
    await backend().putBinary(at('bin'), new TextEncoder().encode('bïnary ✓'));
    await backend().putBinary(at('bin-json'), new TextEncoder().encode('{"k":"välue"}'));
    const source = await open();
    expect(await source.get(at('bin'))).toBe('bïnary ✓');
    expect(await source.get(at('bin-json'), 'k')).toBe('välue');
  });

  it('refuses a SecretBinary that is not UTF-8 with a clear error, not U+FFFD garbage', async () => {
    await backend().putBinary(at('raw'), new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0xff]));
    const source = await open();
    const error = await rejection(source.get(at('raw')));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.reason).toBe('not_text');
    expect(error.message).toBe(
      `aws secrets manager (${backend().env.AWS_REGION}): secret "${at('raw')}" is binary (SecretBinary) and not UTF-8 text, so it cannot be used as a setting`,
    );
  });

  it('a missing secret is ERR_SECRET_NOT_FOUND naming the secret id', async () => {
    const source = await open();
    const error = await rejection(source.get(at('never-created')));
    expect(error.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(error.message).toBe(
      `secret not found at path "${at('never-created')}" (aws secrets manager (${backend().env.AWS_REGION}): ResourceNotFoundException)`,
    );
  });

  it('a missing key, or a key of a value that is not JSON, is ERR_SECRET_NOT_FOUND naming path and key', async () => {
    await backend().put(at('keyed'), '{"user":"u-value-x"}');
    await backend().put(at('text'), 'plain-text-value-y');
    const source = await open();
    const missing = await rejection(source.get(at('keyed'), 'password'));
    expect(missing.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(missing.message).toBe(`key "password" not found in secret at path "${at('keyed')}"`);
    const notJson = await rejection(source.get(at('text'), 'user'));
    expect(notJson.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(notJson.message).toBe(
      `secret at path "${at('text')}" is not a JSON object, so key "user" cannot be selected`,
    );
    for (const error of [missing, notJson]) {
      expect(error.message).not.toContain('u-value-x');
      expect(error.message).not.toContain('plain-text-value-y');
    }
  });

  it('region: AWS_DEFAULT_REGION is read when AWS_REGION is absent, and AWS_REGION wins over it', async () => {
    await backend().put(at('regional'), 'here');
    const { AWS_REGION, ...rest } = backend().env;
    const byDefault = await open({ ...rest, AWS_DEFAULT_REGION: AWS_REGION });
    expect(await byDefault.get(at('regional'))).toBe('here');
    const both = await open({ ...rest, AWS_REGION, AWS_DEFAULT_REGION: 'ap-southeast-2' });
    expect(await both.get(at('regional'))).toBe('here');
  });

  it('an endpoint nobody answers is an ERR_SECRET_PROVIDER naming the store, the endpoint and the cause', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const { source } = await openStore(backend().env, { endpoint_url: endpoint });
    const error = await rejection(source.get(at('plain')));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.reason).toBe('unreachable');
    expect(error.message).toMatch(
      new RegExp(
        `^aws secrets manager \\(${backend().env.AWS_REGION}\\) at ${endpoint}: unreachable \\(ECONNREFUSED`,
      ),
    );
  });

  it('a call whose signal is aborted (the core timeout) is cancelled with ERR_SECRET_PROVIDER', async () => {
    await backend().put(at('plain'), 'x');
    const source = await open();
    const error = await rejection(source.get(at('plain'), undefined, { signal: AbortSignal.abort() }));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.reason).toBe('timeout');
    expect(error.message).toBe(
      `aws secrets manager (${backend().env.AWS_REGION}) at ${backend().config.endpoint_url}: the request for secret "${at('plain')}" was cancelled (timed out or shut down)`,
    );
    // The source still serves the next call.
    expect(await source.get(at('plain'), undefined, { signal: new AbortController().signal })).toBe('x');
  });

  it('a closed store refuses further calls; closing twice is harmless', async () => {
    await backend().put(at('plain'), 'x');
    const source = await open();
    expect(await source.get(at('plain'))).toBe('x');
    await source.close?.();
    await source.close?.();
    const error = await rejection(source.get(at('plain')));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.message).toBe(`aws secrets manager (${backend().env.AWS_REGION}): the store is closed`);
  });
}
