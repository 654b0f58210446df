import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchResources } from '../../conformance/kit/handles.ts';
import { tempDir } from '../../core/test-support/tmp.ts';
import {
  ErrorCodes,
  type Logger,
  type PortcullisError,
  type SecretContext,
  type SecretSource,
} from '../../index.ts';
import { type AzureFake, type AzureFakeOptions, EMULATOR_TOKEN, startAzureFake } from './fake.ts';
import azure from './index.ts';
import { describeFailure, emulatorMode } from './source.ts';

/** Every message and log line the tests saw: none may hold a secret value or a token. */
const seen: string[] = [];
const SECRET_VALUES = ['plain-value-Zq81', 'json-user-Kp20', 'json-pass-Wt57', 'rotated-value-Mc44'];

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
  vi.unstubAllEnvs();
});

function recordingLogger(lines: string[]): Logger {
  const at =
    (level: string) =>
    (...args: unknown[]) => {
      const line = JSON.stringify({ level, args });
      lines.push(line);
      seen.push(line);
    };
  const log: Logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => log,
  } as Logger;
  return log;
}

async function fakeFor(options?: AzureFakeOptions): Promise<AzureFake> {
  const fake = await startAzureFake(options);
  opened.push(fake);
  fake.set('plain', SECRET_VALUES[0] as string);
  fake.set('json', JSON.stringify({ username: SECRET_VALUES[1], password: SECRET_VALUES[2], port: 5432 }));
  return fake;
}

async function open(
  config: Record<string, unknown>,
  env: Record<string, string | undefined>,
): Promise<{ source: SecretSource; logLines: string[] }> {
  const logLines: string[] = [];
  const ctx: SecretContext = {
    error: (code, message) => {
      throw Object.assign(new Error(message), { code });
    },
    log: recordingLogger(logLines),
    env,
    fetch,
    now: () => new Date(),
  };
  const source = await azure.create(ctx, { enabled: true, ...config } as never);
  opened.push({ close: () => source.close?.() });
  return { source, logLines };
}

const openOn = (fake: AzureFake, env: Record<string, string | undefined> = fake.env) =>
  open(fake.config, env);

const signal = () => ({ signal: new AbortController().signal });

async function rejection(promise: Promise<unknown>): Promise<PortcullisError> {
  try {
    await promise;
  } catch (error) {
    const e = error as PortcullisError;
    seen.push(e.message, e.stack ?? '', JSON.stringify(e));
    return e;
  }
  throw new Error('expected a rejection');
}

describe('azure: configuration', () => {
  const validate = (config: Record<string, unknown>) =>
    azure.validate?.({ enabled: true, ...config } as never, {} as never);

  it("needs vault_url, with Flipt's message, as an https URL; a reference is left for later", () => {
    expect(validate({})).toEqual([
      { path: ['vault_url'], message: 'secrets.providers.azure: vault_url non-empty value is required' },
    ]);
    expect(validate({ vault_url: 'http://kv.vault.azure.net' })).toEqual([
      {
        path: ['vault_url'],
        message:
          'secrets.providers.azure: vault_url must be an https URL (https://<vault>.vault.azure.net), got "http://kv.vault.azure.net"',
      },
    ]);
    expect(validate({ vault_url: 'not a url' })?.[0]?.path).toEqual(['vault_url']);
    expect(validate({ vault_url: 'https://kv.vault.azure.net' })).toEqual([]);
    expect(validate({ vault_url: '${secret:file:kv-url}' })).toEqual([]);
  });

  it('reads AZURE_KEYVAULT_EMULATOR as Flipt does (any non-empty value), except the false words of ParseBool', () => {
    for (const word of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
      expect(emulatorMode(word)).toEqual({ on: true, unusual: false });
    }
    for (const word of [undefined, '', '0', 'f', 'F', 'FALSE', 'false', 'False']) {
      expect(emulatorMode(word)).toEqual({ on: false, unusual: false });
    }
    expect(emulatorMode('yes')).toEqual({ on: true, unusual: true });
  });
});

describe('azure: reading secrets from the fake vault', () => {
  it('returns the whole value for two parts and a JSON field for three, sending the emulator token', async () => {
    const fake = await fakeFor();
    const { source, logLines } = await openOn(fake);
    expect(await source.get('plain', undefined, signal())).toBe(SECRET_VALUES[0]);
    expect(await source.get('json', 'username', signal())).toBe(SECRET_VALUES[1]);
    expect(await source.get('json', 'port')).toBe('5432'); // no options: the core before kit 1.1 passed none
    expect(await source.get('json')).toBe(
      JSON.stringify({ username: SECRET_VALUES[1], password: SECRET_VALUES[2], port: 5432 }),
    );
    // Flipt's emulator mode: API 7.6, the fixed token after the challenge; every request over the fake's TLS.
    expect(fake.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ['/secrets/plain/?api%2Dversion=7.6', undefined],
      ['/secrets/plain/?api%2Dversion=7.6', `Bearer ${EMULATOR_TOKEN}`],
      ['/secrets/json/?api%2Dversion=7.6', `Bearer ${EMULATOR_TOKEN}`],
      ['/secrets/json/?api%2Dversion=7.6', `Bearer ${EMULATOR_TOKEN}`],
      ['/secrets/json/?api%2Dversion=7.6', `Bearer ${EMULATOR_TOKEN}`],
    ]);
    expect(logLines.join('\n')).toContain(`connecting to an Azure Key Vault emulator at ${fake.vaultUrl}`);
  });

  it('reads the latest version each time, and takes vault_url with a trailing slash', async () => {
    const fake = await fakeFor();
    const { source } = await open({ ...fake.config, vault_url: `${fake.vaultUrl}/` }, fake.env);
    expect(await source.get('plain', undefined, signal())).toBe(SECRET_VALUES[0]);
    fake.set('plain', SECRET_VALUES[3] as string);
    expect(await source.get('plain', undefined, signal())).toBe(SECRET_VALUES[3]);
    expect(fake.requests.at(-1)?.path).toBe('/secrets/plain/?api%2Dversion=7.6');
  });

  it('takes an unusual AZURE_KEYVAULT_EMULATOR value as true, with a warning', async () => {
    const fake = await fakeFor();
    const { source, logLines } = await openOn(fake, { AZURE_KEYVAULT_EMULATOR: 'yes' });
    expect(await source.get('plain', undefined, signal())).toBe(SECRET_VALUES[0]);
    expect(logLines.join('\n')).toContain(
      'AZURE_KEYVAULT_EMULATOR=\\"yes\\" is not a boolean; taken as true',
    );
  });

  it('reads the knob from ctx.env, not process.env', async () => {
    vi.stubEnv('AZURE_KEYVAULT_EMULATOR', 'true');
    vi.stubEnv('AZURE_TOKEN_CREDENTIALS', 'EnvironmentCredential');
    const fake = await fakeFor();
    const { source } = await openOn(fake, { AZURE_KEYVAULT_EMULATOR: 'false' });
    // DefaultAzureCredential mode: the SDK checks the challenge's resource (vault.azure.net) against the host.
    const error = await rejection(source.get('plain', undefined, signal()));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.message).toContain(
      "The challenge resource 'vault.azure.net' does not match the requested domain",
    );
  });

  it('with DefaultAzureCredential, sends no token to a vault whose challenge names another resource', async () => {
    vi.stubEnv('AZURE_TOKEN_CREDENTIALS', 'EnvironmentCredential');
    const fake = await fakeFor();
    const { source } = await openOn(fake, {});
    const error = await rejection(source.get('plain', undefined, signal()));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.message).toBe(
      `azure key vault at ${fake.vaultUrl}: getting secret "plain": the vault's authentication challenge was refused: The challenge resource 'vault.azure.net' does not match the requested domain. Set disableChallengeResourceVerification to true in your client options to disable. See https://aka.ms/azsdk/blog/vault-uri for more information.`,
    );
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([undefined]);
  });

  it('trusts only the CA at ca_cert_path, and says so when the certificate is not trusted', async () => {
    const fake = await fakeFor();
    const { source } = await open({ vault_url: fake.vaultUrl }, fake.env);
    const untrusted = await rejection(source.get('plain', undefined, signal()));
    expect(untrusted.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(untrusted.message).toBe(
      `azure key vault at ${fake.vaultUrl}: getting secret "plain": the vault's TLS certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate); set ca_cert_path to the CA that issued it`,
    );
    expect(fake.requests).toHaveLength(0);

    const other = await startAzureFake();
    opened.push(other);
    const wrongCa = await open({ vault_url: fake.vaultUrl, ca_cert_path: other.caFile }, fake.env);
    expect((await rejection(wrongCa.source.get('plain', undefined, signal()))).message).toContain(
      "the vault's TLS certificate is not trusted",
    );

    const missing = join(tempDir(), 'no-such-ca.pem');
    const refused = await rejection(open({ vault_url: fake.vaultUrl, ca_cert_path: missing }, fake.env));
    expect(refused.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(refused.message).toMatch(
      /^azure key vault: reading ca_cert_path .*no-such-ca\.pem.*: .*no such file/,
    );
  });

  it('goes to the vault directly when a proxy is set and ca_cert_path too, with a warning', async () => {
    const fake = await fakeFor();
    const { source, logLines } = await openOn(fake, { ...fake.env, HTTPS_PROXY: 'http://127.0.0.1:9' });
    expect(await source.get('plain', undefined, signal())).toBe(SECRET_VALUES[0]);
    expect(logLines.join('\n')).toContain('a proxy is set in the environment, but ca_cert_path is set too');
  });
});

describe('azure: errors', () => {
  it('a missing secret, a missing key and a key of a non-JSON value are ERR_SECRET_NOT_FOUND naming them', async () => {
    const fake = await fakeFor();
    const { source } = await openOn(fake);
    const missing = await rejection(source.get('absent', undefined, signal()));
    expect(missing.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(missing.message).toBe('secret not found at path "absent" (404 SecretNotFound)');
    const noKey = await rejection(source.get('json', 'token', signal()));
    expect(noKey.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(noKey.message).toBe('key "token" not found in secret at path "json"');
    const notJson = await rejection(source.get('plain', 'username', signal()));
    expect(notJson.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(notJson.message).toBe(
      'secret at path "plain" is not a JSON object, so key "username" cannot be selected',
    );
  });

  it('refuses a path that is no Key Vault secret name up front (ERR_SECRET_REFERENCE_INVALID)', async () => {
    const fake = await fakeFor();
    const { source } = await openOn(fake);
    for (const path of ['tokens/deploy', 'has_underscore', 'dotted.name', '', 'a'.repeat(128)]) {
      const error = await rejection(source.get(path, undefined, signal()));
      expect(error.code).toBe(ErrorCodes.SECRET_REFERENCE_INVALID);
      expect(error.message).toBe(
        `secret path ${JSON.stringify(path)} is not an Azure Key Vault secret name (1 to 127 characters of 0-9, a-z, A-Z and -)`,
      );
    }
    expect(fake.requests).toHaveLength(0);
    expect(await source.get('a'.repeat(127)).catch((e: PortcullisError) => e.code)).toBe(
      ErrorCodes.SECRET_NOT_FOUND,
    );
  });

  it('a vault that is down is ERR_SECRET_PROVIDER naming the vault and the 503, after few retries', async () => {
    const fake = await fakeFor();
    const { source } = await openOn(fake);
    fake.setDown(true);
    const started = Date.now();
    const down = await rejection(source.get('plain', undefined, signal()));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(down.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(down.message).toBe(
      `azure key vault at ${fake.vaultUrl}: getting secret "plain": unexpected answer (503 ServiceUnavailable: The service is unavailable.)`,
    );
    expect(fake.requests).toHaveLength(3); // the first attempt and two retries
    fake.setDown(false);
    expect(await source.get('plain', undefined, signal())).toBe(SECRET_VALUES[0]);
  });

  it('an unreachable vault is ERR_SECRET_PROVIDER naming it and the refused connection', async () => {
    const fake = await fakeFor();
    const { source } = await openOn(fake);
    await fake.close();
    const error = await rejection(source.get('plain', undefined, signal()));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.message).toBe(
      `azure key vault at ${fake.vaultUrl}: getting secret "plain": unreachable (connect ECONNREFUSED ${fake.vaultUrl.slice('https://'.length)})`,
    );
  });

  it('refused credentials (401, 403) are ERR_SECRET_PROVIDER with the Key Vault error code', async () => {
    const strict = await fakeFor({ acceptedToken: 'a-token-the-store-does-not-have' });
    const wrongToken = await rejection((await openOn(strict)).source.get('plain', undefined, signal()));
    expect(wrongToken.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(wrongToken.message).toBe(
      `azure key vault at ${strict.vaultUrl}: getting secret "plain": the credentials were refused (401 Unauthorized: AKV10032: Invalid issuer.)`,
    );

    const fake = await fakeFor();
    fake.setForbidden(true);
    const forbidden = await rejection((await openOn(fake)).source.get('plain', undefined, signal()));
    expect(forbidden.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(forbidden.message).toMatch(
      /^azure key vault at https:\/\/127\.0\.0\.1:\d+: getting secret "plain": the credentials were refused \(403 Forbidden: The user, group or application does not have secrets get permission/,
    );
  });

  it('an aborted signal cancels the call, before it starts or while it waits between retries', async () => {
    const fake = await fakeFor();
    const { source } = await openOn(fake);
    const aborted = new AbortController();
    aborted.abort();
    const before = await rejection(source.get('plain', undefined, { signal: aborted.signal }));
    expect(before.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(before.message).toBe(
      `azure key vault at ${fake.vaultUrl}: getting secret "plain": the request was cancelled (timed out or shut down)`,
    );

    fake.setDown(true);
    const started = Date.now();
    const during = await rejection(source.get('plain', undefined, { signal: AbortSignal.timeout(150) }));
    expect(during.message).toContain('the request was cancelled');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(fake.requests.length).toBeLessThan(3);
  });

  it('a DefaultAzureCredential that finds no credential says so briefly, naming each one tried', async () => {
    vi.stubEnv('AZURE_TOKEN_CREDENTIALS', 'EnvironmentCredential');
    for (const name of [
      'AZURE_TENANT_ID',
      'AZURE_CLIENT_ID',
      'AZURE_CLIENT_SECRET',
      'AZURE_CLIENT_CERTIFICATE_PATH',
    ]) {
      vi.stubEnv(name, undefined);
    }
    const { DefaultAzureCredential } = await import('@azure/identity');
    const failure = await new DefaultAzureCredential().getToken('https://vault.azure.net/.default').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(describeFailure(failure)).toBe(
      'DefaultAzureCredential found no Azure credential to use (EnvironmentCredential is unavailable)',
    );
  });

  it('a DefaultAzureCredential that cannot be created stops create with its reason', async () => {
    vi.stubEnv('AZURE_TOKEN_CREDENTIALS', 'NoSuchCredential');
    const error = await rejection(open({ vault_url: 'https://kv.vault.azure.net' }, {}));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.message).toMatch(
      /^azure key vault at https:\/\/kv\.vault\.azure\.net: creating DefaultAzureCredential: Invalid value for AZURE_TOKEN_CREDENTIALS = NoSuchCredential\./,
    );
  });

  it('no message or log line seen by these tests holds a secret value or the token', () => {
    expect(seen.length).toBeGreaterThan(20);
    for (const text of seen) {
      for (const secret of [...SECRET_VALUES, EMULATOR_TOKEN, 'a-token-the-store-does-not-have']) {
        expect(text).not.toContain(secret);
      }
    }
  });
});

describe('azure: close', () => {
  it('leaves no socket, timer or handle behind, whatever the calls ended with', async () => {
    const fake = await fakeFor();
    const warmUp = await openOn(fake);
    await warmUp.source.get('plain', undefined, signal());
    await warmUp.source.close?.();
    const watch = watchResources();
    try {
      await watch.checkFromNow();
      const { source } = await openOn(fake);
      await source.get('plain', undefined, signal());
      await source.get('json', 'password', signal());
      await source.get('absent', undefined, signal()).catch(() => undefined);
      fake.setDown(true);
      await source.get('plain', undefined, signal()).catch(() => undefined);
      fake.setDown(false);
      await source.close?.();
      await watch.assertNoneLeft('creating, using and closing the azure store');
    } finally {
      watch.stop();
    }
  });

  it('loads no Azure SDK until a store is created', async () => {
    const dir = tempDir();
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      `import { registerHooks } from 'node:module';
       const resolved = [];
       registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); resolved.push(r.url); return r; } });
       await import(${JSON.stringify(join(import.meta.dirname, 'index.ts'))});
       console.log(JSON.stringify(resolved));`,
    );
    const { execFileSync } = await import('node:child_process');
    const resolved = JSON.parse(
      execFileSync(process.execPath, ['--experimental-strip-types', '--no-warnings', probe], {
        encoding: 'utf8',
      }),
    ) as string[];
    expect(resolved.some((url) => url.endsWith('/secrets/azure/source.ts'))).toBe(true);
    expect(resolved.filter((url) => url.includes('@azure'))).toEqual([]);
  });
});
