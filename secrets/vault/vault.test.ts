import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Logger, SecretContext, SecretSource } from '../../core/plugins/kit/index.ts';
import { ErrorCodes, PluginError } from '../../core/plugins/kit/index.ts';
import { createTestCa, type TestCa } from '../../core/test-support/tls.ts';
import { tempDirForSuite } from '../../core/test-support/tmp.ts';
import { createRuntime } from '../../index.ts';
import type { VaultProviderConfig } from './config.ts';
import { startVaultFake, type VaultFake, type VaultFakeOptions } from './fake.ts';
import vault from './index.ts';

const dir = tempDirForSuite();
const SA_DEFAULT = '/var/run/secrets/kubernetes.io/serviceaccount/token';

// ---- Harness: fakes, sources, log lines, every message seen (searched for secrets at the end of each test) ----

const cleanups: Array<() => unknown> = [];
let logLines: string[] = [];
let messages: string[] = [];
let secrets: string[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.unstubAllEnvs();
  const seen = [...logLines, ...messages];
  for (const secret of secrets) {
    for (const text of seen) expect(text, 'a secret in a message or log line').not.toContain(secret);
  }
  logLines = [];
  messages = [];
  secrets = [];
});

function captureLogger(bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (fieldsOrMessage: object | string, message?: string): void => {
      const fields = typeof fieldsOrMessage === 'string' ? {} : fieldsOrMessage;
      const msg = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : (message ?? '');
      logLines.push(JSON.stringify({ level, ...bindings, ...fields, msg }));
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => captureLogger({ ...bindings, ...more }),
  };
}

async function fake(options: VaultFakeOptions = {}): Promise<VaultFake> {
  const started = await startVaultFake(options);
  cleanups.push(() => started.close());
  secrets.push(started.token, started.secretId, started.kubernetesJwt);
  return started;
}

function contextWith(env: Record<string, string | undefined>): SecretContext {
  return {
    error: (code, message) => {
      throw new PluginError(code, message, { plugin: 'vault' });
    },
    log: captureLogger({ plugin: 'vault' }),
    fetch: globalThis.fetch,
    env,
    now: () => new Date(),
  };
}

/** The block as the runtime hands it to `create`: defaults applied. */
function block(config: Record<string, unknown>): VaultProviderConfig {
  return {
    enabled: true,
    auth_method: 'token',
    mount: 'secret',
    service_account_token_path: SA_DEFAULT,
    ...config,
  } as VaultProviderConfig;
}

async function open(config: Record<string, unknown>, env: Record<string, string | undefined> = {}) {
  const source = await vault.create(contextWith(env), block(config));
  cleanups.push(() => source.close?.());
  return source;
}

/** The error `attempt` rejects with; its message is kept to be searched for secrets. */
async function failure(attempt: unknown): Promise<{ code?: string; message: string }> {
  try {
    await attempt;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    messages.push(message);
    return { code, message };
  }
  throw new Error('resolved');
}

const get = (source: SecretSource, path: string, key?: string) =>
  source.get(path, key, { signal: new AbortController().signal });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const saFile = (name: string, jwt: string) => {
  const file = join(dir, name);
  writeFileSync(file, `${jwt}\n`);
  return file;
};

// ---- Reading ----

describe('vault store: reading KV v2', () => {
  it('reads data.data[key]; the two-part reference reads the key named like the path', async () => {
    const f = await fake();
    f.set('db', JSON.stringify({ username: 'app', password: 'pw-1', port: 5432, tls: true }));
    f.set('ci-token', 'ci-value-x');
    secrets.push('pw-1', 'ci-value-x');
    const source = await open(f.config);
    expect(await get(source, 'db', 'password')).toBe('pw-1');
    expect(await get(source, 'db', 'port')).toBe('5432');
    expect(await get(source, 'db', 'tls')).toBe('true');
    expect(await get(source, 'ci-token')).toBe('ci-value-x');
    const reads = f.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/secret/data/'));
    expect(reads.map((r) => r.path)).toEqual([
      '/v1/secret/data/db',
      '/v1/secret/data/db',
      '/v1/secret/data/db',
      '/v1/secret/data/ci-token',
    ]);
    expect(reads.every((r) => r.headers['x-vault-token'] === f.token)).toBe(true);
  });

  it('a missing secret, a missing key, a key of a non-JSON value, an object field: ERR_SECRET_NOT_FOUND', async () => {
    const f = await fake();
    f.set('db', JSON.stringify({ username: 'app', nested: { a: 1 } }));
    f.set('plain', 'not json');
    const source = await open(f.config);
    expect(await failure(get(source, 'nope'))).toEqual({
      code: ErrorCodes.SECRET_NOT_FOUND,
      message: 'secret not found at path "nope"',
    });
    expect(await failure(get(source, 'db', 'password'))).toEqual({
      code: ErrorCodes.SECRET_NOT_FOUND,
      message: 'key "password" not found in secret at path "db"',
    });
    expect((await failure(get(source, 'plain', 'username'))).code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect((await failure(get(source, 'db', 'nested'))).code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    // Two-part: the key named like the path, which a JSON secret does not have.
    expect(await failure(get(source, 'db'))).toMatchObject({
      message: 'key "db" not found in secret at path "db"',
    });
  });

  it('reads nested paths under another mount; refuses "." and ".." segments', async () => {
    const f = await fake({ mount: 'kv' });
    f.set('team/app', JSON.stringify({ k: 'v' }));
    const source = await open({ ...f.config, mount: 'kv' });
    expect(await get(source, 'team/app', 'k')).toBe('v');
    expect(f.requests.at(-1)?.path).toBe('/v1/kv/data/team/app');
    expect((await failure(get(source, '../../sys/seal-status', 'k'))).code).toBe(
      ErrorCodes.SECRET_REFERENCE_INVALID,
    );
  });

  it('sends the namespace (config, else VAULT_NAMESPACE) in X-Vault-Namespace on every request', async () => {
    const f = await fake({ namespace: 'team-a', ttlSeconds: 3600 });
    f.set('k', 'v');
    const fromConfig = await open({ ...f.config, namespace: 'team-a' });
    expect(await get(fromConfig, 'k')).toBe('v');
    const fromEnv = await open({ ...f.config, namespace: undefined }, { VAULT_NAMESPACE: 'team-a' });
    expect(await get(fromEnv, 'k')).toBe('v');
    const approle = await open(
      { address: f.address, auth_method: 'approle', role: 'r', namespace: 'team-a' },
      { VAULT_ROLE_ID: f.roleId, VAULT_SECRET_ID: f.secretId },
    );
    expect(await get(approle, 'k')).toBe('v');
    expect(f.requests.length).toBeGreaterThanOrEqual(6);
    expect(f.requests.every((r) => r.headers['x-vault-namespace'] === 'team-a')).toBe(true);
    const wrong = await open({ ...f.config, namespace: 'team-b' });
    expect((await failure(get(wrong, 'k'))).message).toMatch(/permission denied \(403/);
  });
});

// ---- Authentication ----

describe('vault store: authentication', () => {
  it('token: the config token, else VAULT_TOKEN from ctx.env (never process.env), else a clear error', async () => {
    const f = await fake();
    f.set('k', 'v');
    vi.stubEnv('VAULT_TOKEN', 'process-env-token-must-not-be-used');
    const fromEnv = await open({ address: f.address, token: undefined }, { VAULT_TOKEN: f.token });
    expect(await get(fromEnv, 'k')).toBe('v');
    expect(f.requests.at(-1)?.headers['x-vault-token']).toBe(f.token);
    const none = await failure(vault.create(contextWith({}), block({ address: f.address })));
    expect(none).toMatchObject({ code: ErrorCodes.SECRET_PROVIDER });
    expect(none.message).toBe(`vault at ${f.address}: no vault token provided`);
  });

  it('token: a refused token names Vault and the refusal, never the token', async () => {
    const f = await fake();
    const source = await open({ ...f.config, token: 'hvs.wrong-token-abc' });
    secrets.push('hvs.wrong-token-abc');
    const refused = await failure(get(source, 'k'));
    expect(refused.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(refused.message).toMatch(
      new RegExp(
        `^vault at ${f.address}: reading "secret/data/k": permission denied \\(403: permission denied\\)`,
      ),
    );
    expect(logLines.join('\n')).toMatch(/looking up the token: permission denied/);
  });

  it('approle: logs in with VAULT_ROLE_ID/VAULT_SECRET_ID from ctx.env; config role unused', async () => {
    const f = await fake();
    f.set('k', 'v');
    const source = await open(
      { address: f.address, auth_method: 'approle', role: 'ignored' },
      { VAULT_ROLE_ID: f.roleId, VAULT_SECRET_ID: f.secretId },
    );
    expect(await get(source, 'k')).toBe('v');
    const [loginRequest, read] = f.requests;
    expect(loginRequest?.path).toBe('/v1/auth/approle/login');
    expect(JSON.parse(loginRequest?.body ?? '')).toEqual({ role_id: f.roleId, secret_id: f.secretId });
    expect(loginRequest?.headers['x-vault-token']).toBeUndefined();
    expect(read?.headers['x-vault-token']).toMatch(/^hvs\.fake-/);
    expect(read?.headers['x-vault-token']).not.toBe(f.token);
  });

  it('approle: missing or refused credentials are clear errors without the secret_id', async () => {
    const f = await fake();
    const missing = await failure(
      vault.create(
        contextWith({ VAULT_ROLE_ID: f.roleId }),
        block({ address: f.address, auth_method: 'approle' }),
      ),
    );
    expect(missing.message).toBe(
      `vault at ${f.address}: VAULT_ROLE_ID and VAULT_SECRET_ID must be set for approle auth`,
    );
    expect(f.requests).toHaveLength(0);
    secrets.push('wrong-secret-id-77');
    const refused = await failure(
      vault.create(
        contextWith({ VAULT_ROLE_ID: f.roleId, VAULT_SECRET_ID: 'wrong-secret-id-77' }),
        block({ address: f.address, auth_method: 'approle' }),
      ),
    );
    expect(refused).toEqual({
      code: ErrorCodes.SECRET_PROVIDER,
      message: `vault at ${f.address}: approle login: the credentials were refused (400: invalid role or secret ID)`,
    });
  });

  it('kubernetes: logs in with the role and the service-account token read from service_account_token_path', async () => {
    const f = await fake({ kubernetesRole: 'portcullis', kubernetesJwt: 'eyJ.first.sig' });
    f.set('k', 'v');
    const file = saFile('sa-token', 'eyJ.first.sig');
    const source = await open({
      address: f.address,
      auth_method: 'kubernetes',
      role: 'portcullis',
      service_account_token_path: file,
    });
    expect(await get(source, 'k')).toBe('v');
    expect(f.requests[0]?.path).toBe('/v1/auth/kubernetes/login');
    expect(JSON.parse(f.requests[0]?.body ?? '')).toEqual({ role: 'portcullis', jwt: 'eyJ.first.sig' });
  });

  it('kubernetes: a missing token file or a refused role is a clear error; the default path is the pod one', async () => {
    const f = await fake({ kubernetesRole: 'portcullis' });
    const missing = await failure(
      vault.create(
        contextWith({}),
        block({ address: f.address, auth_method: 'kubernetes', role: 'portcullis' }),
      ),
    );
    expect(missing.message).toMatch(
      new RegExp(`^vault at ${f.address}: reading kubernetes service account token: stat ${SA_DEFAULT}: `),
    );
    const file = saFile('sa-token-wrong', f.kubernetesJwt);
    const refused = await failure(
      vault.create(
        contextWith({}),
        block({
          address: f.address,
          auth_method: 'kubernetes',
          role: 'other',
          service_account_token_path: file,
        }),
      ),
    );
    expect(refused.message).toBe(
      `vault at ${f.address}: kubernetes login: the credentials were refused (400: invalid role name "other")`,
    );
  });

  it('a token refused as expired (403) makes one new login, re-reading the service-account token, and a retry', async () => {
    const f = await fake({ kubernetesRole: 'portcullis', kubernetesJwt: 'eyJ.good.sig' });
    f.set('k', 'v');
    const file = saFile('sa-token-rotating', 'eyJ.good.sig');
    const source = await open({
      address: f.address,
      auth_method: 'kubernetes',
      role: 'portcullis',
      service_account_token_path: file,
    });
    expect(await get(source, 'k')).toBe('v');
    // Expired, and the file now holds a token the fake refuses: the new login sends what the file holds now.
    f.revokeTokens();
    writeFileSync(file, 'eyJ.rotated.unknown');
    secrets.push('eyJ.rotated.unknown');
    const refused = await failure(get(source, 'k'));
    expect(refused.message).toBe(
      `vault at ${f.address}: kubernetes login: the credentials were refused (403: permission denied)`,
    );
    const lastLogin = f.requests.filter((r) => r.path === '/v1/auth/kubernetes/login').at(-1);
    expect(JSON.parse(lastLogin?.body ?? '').jwt).toBe('eyJ.rotated.unknown');
    // Rotated to a good one: concurrent gets share one login, each retried once.
    writeFileSync(file, 'eyJ.good.sig');
    const logins = f.logins;
    expect(await Promise.all([get(source, 'k'), get(source, 'k'), get(source, 'k')])).toEqual([
      'v',
      'v',
      'v',
    ]);
    expect(f.logins).toBe(logins + 1);
    expect(logLines.join('\n')).toMatch(/the token was refused \(403\); logging in again/);
  });

  it('a configured token refused with 403 is not retried', async () => {
    const f = await fake();
    const source = await open(f.config);
    f.revokeTokens();
    const before = f.requests.length;
    expect((await failure(get(source, 'k'))).message).toMatch(/permission denied \(403/);
    expect(f.requests.length).toBe(before + 1);
  });
});

// ---- Renewal ----

describe('vault store: token renewal', () => {
  it('renews a configured token at two thirds of its TTL (lookup-self), past its first TTL', async () => {
    const f = await fake({ ttlSeconds: 2 });
    f.set('k', 'v');
    const source = await open(f.config);
    expect(f.requests[0]?.path).toBe('/v1/auth/token/lookup-self');
    await sleep(2600);
    expect(f.renewals).toBeGreaterThanOrEqual(1);
    const renew = f.requests.find((r) => r.path === '/v1/auth/token/renew-self');
    expect(JSON.parse(renew?.body ?? '')).toEqual({ increment: 2 });
    expect(await get(source, 'k')).toBe('v');
    expect(logLines.join('\n')).toMatch(/vault token renewed/);
  });

  it('logs in again (approle) when a renewal comes back shorter than asked (the max TTL is near)', async () => {
    const f = await fake({ ttlSeconds: 3, maxTtlSeconds: 4 });
    f.set('k', 'v');
    const source = await open(
      { address: f.address, auth_method: 'approle', role: 'r' },
      { VAULT_ROLE_ID: f.roleId, VAULT_SECRET_ID: f.secretId },
    );
    await sleep(2300);
    expect(f.renewals).toBe(1);
    expect(f.logins).toBe(2);
    expect(logLines.join('\n')).toMatch(
      /cannot be renewed \(it reaches its maximum TTL in \d+s\); logging in again/,
    );
    expect(await get(source, 'k')).toBe('v');
  });

  it('logs in again (approle) when the renewal is refused (403)', async () => {
    const f = await fake({ ttlSeconds: 2 });
    const source = await open(
      { address: f.address, auth_method: 'approle', role: 'r' },
      { VAULT_ROLE_ID: f.roleId, VAULT_SECRET_ID: f.secretId },
    );
    f.revokeTokens();
    f.set('k', 'v');
    await sleep(1600);
    expect(f.logins).toBe(2);
    expect(logLines.join('\n')).toMatch(
      /cannot be renewed \(Vault answered 403: permission denied\); logging in again/,
    );
    const reads = f.requests.length;
    expect(await get(source, 'k')).toBe('v');
    expect(f.requests.length).toBe(reads + 1);
  });

  it('a configured token reaching its max TTL is warned about once, not renewed again', async () => {
    const f = await fake({ ttlSeconds: 3, maxTtlSeconds: 4 });
    await open(f.config);
    await sleep(2300);
    expect(f.renewals).toBe(1);
    expect(logLines.filter((line) => line.includes('cannot be renewed'))).toHaveLength(1);
  });

  it('a configured token that cannot be renewed is warned about once; no renewal when it has no TTL', async () => {
    const f = await fake({ ttlSeconds: 2, renewable: false });
    await open(f.config);
    await sleep(1600);
    const warnings = logLines.filter((line) => line.includes('cannot be renewed'));
    expect(warnings).toHaveLength(1);
    expect(f.renewals).toBe(0);
    const noTtl = await fake();
    await open(noTtl.config);
    expect(noTtl.requests.map((r) => r.path)).toEqual(['/v1/auth/token/lookup-self']);
  });

  it('close stops renewal: no request after close', async () => {
    const f = await fake({ ttlSeconds: 1 });
    const source = await open(f.config);
    await source.close?.();
    const before = f.requests.length;
    await sleep(900);
    expect(f.requests.length).toBe(before);
  });
});

// ---- Failures: down, refused connection, timeouts, unexpected answers ----

/**
 * A Vault that answers lookup-self (a token without TTL) and `body` (status 200) to every other request, or never
 * answers them when `body` is undefined. Tracks the sockets still open.
 */
async function scriptedVault(body?: unknown): Promise<{ address: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server: Server = createHttpServer((req, res) => {
    if (req.url === '/v1/auth/token/lookup-self') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { ttl: 0, renewable: false } }));
    } else if (body !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { address: `http://127.0.0.1:${port}`, sockets };
}

describe('vault store: failures', () => {
  it('a sealed or down Vault (503) is unavailable (start-up waits for it), naming Vault and the status', async () => {
    const f = await fake();
    const source = await open(f.config);
    f.setDown(true);
    const down = await failure(get(source, 'k'));
    expect(down).toEqual({
      code: ErrorCodes.UNAVAILABLE,
      message: `vault at ${f.address}: reading "secret/data/k": Vault is sealed or unavailable (503: Vault is sealed)`,
    });
    // Down at start-up too: the core retries such an error.
    const atStart = await failure(vault.create(contextWith({}), block(f.config)));
    expect(atStart.message).toMatch(/looking up the token: Vault is sealed or unavailable \(503/);
  });

  it('connection refused: unavailable, so that start-up tries again', async () => {
    const f = await fake();
    await f.close();
    const refused = await failure(vault.create(contextWith({}), block(f.config)));
    expect(refused).toEqual({
      code: ErrorCodes.UNAVAILABLE,
      message: `vault at ${f.address}: looking up the token: connection refused`,
    });
  });

  it('an address that is not an http(s) URL', async () => {
    const bad = await failure(
      vault.create(contextWith({}), block({ address: 'vault.local:8200', token: 't' })),
    );
    expect(bad.message).toBe('vault: address "vault.local:8200" is not an http:// or https:// URL');
  });

  it('an aborted signal cancels the request (its socket is closed), without waiting for Vault', async () => {
    const silent = await scriptedVault();
    const source = await open({ address: silent.address, token: 'tok-silent' });
    secrets.push('tok-silent');
    const started = Date.now();
    const timedOut = await failure(source.get('k', undefined, { signal: AbortSignal.timeout(150) }));
    expect(timedOut).toEqual({
      code: ErrorCodes.SECRET_PROVIDER,
      message: `vault at ${silent.address}: the request was cancelled (it timed out)`,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    await sleep(50);
    expect(silent.sockets.size).toBe(0);
    const before = silent.sockets.size;
    const aborted = await failure(source.get('k', undefined, { signal: AbortSignal.abort() }));
    expect(aborted.message).toMatch(/cancelled \(it was aborted\)/);
    expect(silent.sockets.size).toBe(before);
  });

  it('close cancels a request in flight and closes its socket', async () => {
    const silent = await scriptedVault();
    const source = await open({ address: silent.address, token: 'tok-closing' });
    secrets.push('tok-closing');
    const pending = failure(get(source, 'k'));
    await sleep(100);
    expect(silent.sockets.size).toBe(1);
    await source.close?.();
    expect((await pending).message).toBe(
      `vault at ${silent.address}: the request was cancelled (the store was closed)`,
    );
    await sleep(50);
    expect(silent.sockets.size).toBe(0);
  });

  it('an answer without data.data is an unexpected answer', async () => {
    const { address } = await scriptedVault({ data: { value: 'x' } });
    const source = await open({ address, token: 'tok-unexpected' });
    secrets.push('tok-unexpected');
    const odd = await failure(get(source, 'k'));
    expect(odd.message).toBe(
      `vault at ${address}: reading "secret/data/k": unexpected answer (no data.data object: is "secret" a KV version 2 mount?)`,
    );
  });
});

// ---- TLS ----

describe('vault store: TLS (VAULT_CACERT, VAULT_CAPATH, VAULT_SKIP_VERIFY from ctx.env)', () => {
  let ca: TestCa;
  let tls: { cert: string; key: string; caFile: string };
  beforeAll(() => {
    ca = createTestCa(join(dir, 'ca'));
    const leaf = ca.issue(['127.0.0.1']);
    tls = { cert: leaf.certPem, key: leaf.keyPem, caFile: ca.caFile };
  });

  it('trusts the CA in VAULT_CACERT, or in a VAULT_CAPATH folder', async () => {
    const f = await fake({ tls });
    f.set('k', 'v');
    expect(await get(await open(f.config, f.env), 'k')).toBe('v');
    const folder = join(dir, 'ca');
    const capath = join(dir, 'capath');
    mkdirSync(capath, { recursive: true });
    copyFileSync(join(folder, 'ca.pem'), join(capath, 'ca.pem'));
    expect(await get(await open(f.config, { VAULT_CAPATH: capath }), 'k')).toBe('v');
  });

  it('refuses an untrusted certificate with an error naming the TLS problem', async () => {
    const f = await fake({ tls });
    const untrusted = await failure(vault.create(contextWith({}), block(f.config)));
    expect(untrusted.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(untrusted.message).toMatch(
      new RegExp(
        `^vault at ${f.address}: looking up the token: TLS: the server's certificate was not accepted \\(`,
      ),
    );
    expect(untrusted.message).toMatch(/VAULT_CACERT/);
  });

  it('VAULT_SKIP_VERIFY true-ish (Go ParseBool) skips the check; false keeps it, even if process.env says skip', async () => {
    const f = await fake({ tls });
    f.set('k', 'v');
    for (const yes of ['1', 't', 'TRUE', 'True', 'true']) {
      expect(await get(await open(f.config, { VAULT_SKIP_VERIFY: yes }), 'k')).toBe('v');
    }
    vi.stubEnv('VAULT_SKIP_VERIFY', 'true');
    const kept = await failure(vault.create(contextWith({ VAULT_SKIP_VERIFY: 'false' }), block(f.config)));
    expect(kept.message).toMatch(/certificate was not accepted/);
    const garbage = await failure(vault.create(contextWith({ VAULT_SKIP_VERIFY: 'yes' }), block(f.config)));
    expect(garbage.message).toMatch(/could not parse VAULT_SKIP_VERIFY/);
  });

  it('an unreadable VAULT_CACERT is a clear error', async () => {
    const f = await fake({ tls });
    const missing = await failure(
      vault.create(contextWith({ VAULT_CACERT: join(dir, 'nope.pem') }), block(f.config)),
    );
    expect(missing.message).toMatch(new RegExp(`^vault at ${f.address}: reading VAULT_CACERT: stat `));
  });
});

// ---- Through a runtime ----

describe('vault store: in a runtime', () => {
  it('resolves references with the runtime env (approle), and logs neither token nor secret_id', async () => {
    const f = await fake();
    f.set('creds', JSON.stringify({ ci: 'ci-secret-value-1' }));
    f.set('solo', 'solo-secret-value-2');
    secrets.push('ci-secret-value-1', 'solo-secret-value-2');
    const lines: string[] = [];
    const runtime = await createRuntime({
      object: {
        log: { level: 'debug' },
        secrets: {
          providers: { vault: { enabled: true, address: f.address, auth_method: 'approle', role: 'r' } },
        },
        authentication: {
          methods: {
            token: {
              enabled: true,
              storage: {
                tokens: {
                  a: { credential: '${secret:vault:creds:ci}' },
                  b: { credential: '${secret:vault:solo}' },
                },
              },
            },
          },
        },
      },
      env: { VAULT_ROLE_ID: f.roleId, VAULT_SECRET_ID: f.secretId },
      logDestination: { write: (line: string) => lines.push(line) },
    });
    try {
      const tokens = (
        runtime.config.authentication.methods.token as unknown as {
          storage: { tokens: Record<string, { credential: string }> };
        }
      ).storage.tokens;
      expect(tokens.a?.credential).toBe('ci-secret-value-1');
      expect(tokens.b?.credential).toBe('solo-secret-value-2');
    } finally {
      await runtime.close();
    }
    logLines.push(...lines);
  });
});
