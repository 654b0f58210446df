/**
 * The fake against the real SDK: `@azure/keyvault-secrets`' SecretClient, not our store, talks to it, so what the
 * fake expects is what the SDK sends and what it answers is what the SDK accepts.
 */
import { Agent, request } from 'node:https';
import type { GetTokenOptions, TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { afterEach, describe, expect, it } from 'vitest';
import { type AzureFake, type AzureFakeOptions, EMULATOR_TOKEN, startAzureFake } from './fake.ts';

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

async function fakeFor(options?: AzureFakeOptions): Promise<AzureFake> {
  const fake = await startAzureFake(options);
  opened.push(fake);
  return fake;
}

/** A credential that hands out `token` and records what the SDK asked it for. */
function staticCredential(token = EMULATOR_TOKEN) {
  const asked: Array<{ scopes: string[]; tenantId?: string }> = [];
  const credential: TokenCredential = {
    async getToken(scopes: string | string[], options?: GetTokenOptions) {
      asked.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  return { credential, asked };
}

/** A SecretClient trusting the fake's CA, as the emulator mode builds one (challenge resource not checked). */
function clientFor(fake: AzureFake, token = EMULATOR_TOKEN, options: SecretClientOptions = {}) {
  const agent = new Agent({ keepAlive: true, ca: fake.caPem });
  opened.push({ close: () => agent.destroy() });
  const { credential, asked } = staticCredential(token);
  const client = new SecretClient(fake.vaultUrl, credential, {
    agent,
    serviceVersion: '7.6',
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
    ...options,
  });
  return { client, asked };
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Error & { code?: string; statusCode?: number },
  );

describe('the Azure Key Vault fake, driven by the real SecretClient', () => {
  it('challenges the first request, then answers the bearer one with a secret bundle the SDK reads', async () => {
    const fake = await fakeFor({ tenantId: 'tenant-1234' });
    fake.set('db-password', 'hunter2-value');
    const { client, asked } = clientFor(fake);

    const secret = await client.getSecret('db-password');
    expect(secret.value).toBe('hunter2-value');
    expect(secret.name).toBe('db-password');
    expect(secret.properties.vaultUrl).toBe(fake.vaultUrl);
    expect(secret.properties.enabled).toBe(true);
    expect(secret.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(secret.properties.id).toBe(`${fake.vaultUrl}/secrets/db-password/${secret.properties.version}`);

    // The SDK's challenge flow: an anonymous request, the 401 with the challenge, the same request with the token.
    expect(fake.requests).toHaveLength(2);
    const [anonymous, authorized] = fake.requests;
    for (const sent of [anonymous, authorized]) {
      expect(sent?.method).toBe('GET');
      expect(sent?.path).toBe('/secrets/db-password/?api%2Dversion=7.6');
      expect(sent?.headers.accept).toBe('application/json');
      expect(sent?.headers['user-agent']).toContain('azsdk-js-keyvault-secrets/4.12');
      expect(sent?.body).toBe('');
    }
    expect(anonymous?.headers.authorization).toBeUndefined();
    expect(authorized?.headers.authorization).toBe(`Bearer ${EMULATOR_TOKEN}`);
    // The token was asked for the challenge's resource and tenant.
    expect(asked).toEqual([{ scopes: ['https://vault.azure.net/.default'], tenantId: 'tenant-1234' }]);

    // Once challenged, the SDK sends the token straight away.
    await client.getSecret('db-password');
    expect(fake.requests).toHaveLength(3);
    expect(fake.requests[2]?.headers.authorization).toBe(`Bearer ${EMULATOR_TOKEN}`);
  });

  it('serves the latest version, or the version asked for, and the SDK default api-version', async () => {
    const fake = await fakeFor();
    fake.set('rotated', 'first');
    const { client } = clientFor(fake);
    const first = await client.getSecret('rotated');
    fake.set('rotated', 'second');
    expect((await client.getSecret('rotated')).value).toBe('second');
    const version = first.properties.version as string;
    expect((await client.getSecret('rotated', { version })).value).toBe('first');
    expect(fake.requests.at(-1)?.path).toBe(`/secrets/rotated/${version}?api%2Dversion=7.6`);
    // Names are case-insensitive in Key Vault.
    expect((await client.getSecret('ROTATED')).value).toBe('second');

    const latestApi = clientFor(fake, EMULATOR_TOKEN, { serviceVersion: undefined }).client;
    expect((await latestApi.getSecret('rotated')).value).toBe('second');
    expect(fake.requests.at(-1)?.path).toBe('/secrets/rotated/?api%2Dversion=2026-04-01');
  });

  it("answers a missing secret or version with Key Vault's 404 SecretNotFound, which the SDK raises as such", async () => {
    const fake = await fakeFor();
    fake.set('present', 'x');
    const { client } = clientFor(fake);
    const missing = await rejection(client.getSecret('absent'));
    expect(missing.name).toBe('RestError');
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('SecretNotFound');
    expect(missing.message).toBe('A secret with (name/id) absent was not found in this key vault.');
    expect((await rejection(client.getSecret('present', { version: 'f'.repeat(32) }))).code).toBe(
      'SecretNotFound',
    );
    fake.remove('present');
    expect((await rejection(client.getSecret('present'))).statusCode).toBe(404);
  });

  it('refuses another token with 401 Unauthorized, after the SDK answered the challenge once more', async () => {
    const fake = await fakeFor({ acceptedToken: 'the-right-one' });
    fake.set('s', 'x');
    const { client } = clientFor(fake, 'a-wrong-token');
    const refused = await rejection(client.getSecret('s'));
    expect(refused.statusCode).toBe(401);
    expect(refused.code).toBe('Unauthorized');
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([undefined, 'Bearer a-wrong-token']);
    expect(fake.requests.every((r) => r.path === '/secrets/s/?api%2Dversion=7.6')).toBe(true);
  });

  it('answers 403 Forbidden while forbidden, and 503 to everything while down (the SDK retries those)', async () => {
    const fake = await fakeFor();
    fake.set('s', 'x');
    const { client } = clientFor(fake);
    fake.setForbidden(true);
    const forbidden = await rejection(client.getSecret('s'));
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.code).toBe('Forbidden');
    fake.setForbidden(false);
    expect((await client.getSecret('s')).value).toBe('x');

    fake.setDown(true);
    const before = fake.requests.length;
    const down = await rejection(client.getSecret('s'));
    expect(down.statusCode).toBe(503);
    expect(down.code).toBe('ServiceUnavailable');
    expect(fake.requests.length - before).toBe(2); // the first attempt and maxRetries: 1
    fake.setDown(false);
    expect((await client.getSecret('s')).value).toBe('x');
  });

  it('is HTTPS with a certificate only its CA vouches for, and names the public cloud resource', async () => {
    const fake = await fakeFor();
    fake.set('s', 'x');
    const untrusting = new Agent({ keepAlive: true });
    opened.push({ close: () => untrusting.destroy() });
    const noCa = clientFor(fake, EMULATOR_TOKEN, { agent: untrusting }).client;
    expect((await rejection(noCa.getSecret('s'))).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(fake.requests).toHaveLength(0);

    // Without disableChallengeResourceVerification the SDK refuses to send a token for vault.azure.net to 127.0.0.1.
    const verifying = clientFor(fake, EMULATOR_TOKEN, { disableChallengeResourceVerification: false }).client;
    expect((await rejection(verifying.getSecret('s'))).message).toContain(
      "The challenge resource 'vault.azure.net' does not match the requested domain",
    );
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([undefined]);
  });

  it('challenges with the header and body Key Vault sends, and wants an api-version', async () => {
    const fake = await fakeFor({ tenantId: 'my-tenant' });
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = request(`${fake.vaultUrl}${path}`, { ca: fake.caPem, headers, agent: false }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => {
            body += chunk.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const challenged = await get('/secrets/x?api-version=7.6');
    expect(challenged.status).toBe(401);
    expect(challenged.headers['www-authenticate']).toBe(
      'Bearer authorization="https://login.microsoftonline.com/my-tenant", resource="https://vault.azure.net"',
    );
    expect(JSON.parse(challenged.body)).toEqual({
      error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
    });
    const noVersion = await get('/secrets/x', { authorization: `Bearer ${EMULATOR_TOKEN}` });
    expect(noVersion.status).toBe(400);
    expect(JSON.parse(noVersion.body).error.code).toBe('BadParameter');
    expect(fake.requests.map((r) => r.path)).toEqual(['/secrets/x?api-version=7.6', '/secrets/x']);
  });
});
