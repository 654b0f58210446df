/**
 * The fake Vault driven by node-vault itself (not through our store): what the SDK sends is what the fake records,
 * and the SDK accepts what the fake answers.
 */
import { join } from 'node:path';
import createClient from 'node-vault';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecretStoreFake } from '../../core/test-support/secret-store-fake.ts';
import { createTestCa } from '../../core/test-support/tls.ts';
import { tempDirForSuite } from '../../core/test-support/tmp.ts';
import { startVaultFake, type VaultFake, type VaultFakeOptions } from './fake.ts';

const fakes: VaultFake[] = [];
async function fake(options?: VaultFakeOptions): Promise<VaultFake> {
  const started = await startVaultFake(options);
  fakes.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

/** The status node-vault rejected with. */
async function statusOf(attempt: Promise<unknown>): Promise<{ statusCode: number; message: string }> {
  try {
    await attempt;
  } catch (error) {
    const { response, message } = error as { response?: { statusCode: number }; message: string };
    return { statusCode: response?.statusCode ?? -1, message };
  }
  throw new Error('node-vault resolved');
}

describe('vault fake, through node-vault', () => {
  it('offers the interface every store fake offers', async () => {
    const f: SecretStoreFake = await fake();
    expect(f.config).toMatchObject({ auth_method: 'token', mount: 'secret' });
    expect(f.env).toEqual({});
  });

  it('serves a KV v2 read with the token and namespace node-vault sends', async () => {
    const f = await fake({ namespace: 'team-a' });
    f.set('app/db', JSON.stringify({ username: 'u', password: 'p', port: 5432 }));
    f.set('plain', 'just text');
    const client = createClient({ endpoint: f.address, token: f.token, namespace: 'team-a' });
    const answer = await client.read('secret/data/app/db');
    expect(answer.data.data).toEqual({ username: 'u', password: 'p', port: 5432 });
    expect(answer.data.metadata.version).toBe(1);
    expect((await client.read('secret/data/plain')).data.data).toEqual({ plain: 'just text' });
    const [first] = f.requests;
    expect(first).toMatchObject({ method: 'GET', path: '/v1/secret/data/app/db', body: '' });
    expect(first?.headers['x-vault-token']).toBe(f.token);
    expect(first?.headers['x-vault-namespace']).toBe('team-a');
  });

  it('answers 404 for a missing or removed secret, 403 for a wrong token or namespace, 503 while down', async () => {
    const f = await fake({ namespace: 'team-a' });
    const client = createClient({ endpoint: f.address, token: f.token, namespace: 'team-a' });
    expect((await statusOf(client.read('secret/data/nope'))).statusCode).toBe(404);
    f.set('gone', 'x');
    f.remove('gone');
    expect((await statusOf(client.read('secret/data/gone'))).statusCode).toBe(404);
    const stranger = createClient({ endpoint: f.address, token: 'hvs.not-a-token', namespace: 'team-a' });
    expect(await statusOf(stranger.read('secret/data/nope'))).toEqual({
      statusCode: 403,
      message: 'permission denied',
    });
    const elsewhere = createClient({ endpoint: f.address, token: f.token, namespace: 'team-b' });
    expect((await statusOf(elsewhere.read('secret/data/nope'))).statusCode).toBe(403);
    f.setDown(true);
    expect(await statusOf(client.read('secret/data/nope'))).toEqual({
      statusCode: 503,
      message: 'Vault is sealed',
    });
    expect(f.requests).toHaveLength(5);
  });

  it('logs in with approle as node-vault sends it, and the SDK takes the token it issues', async () => {
    const f = await fake({ ttlSeconds: 60 });
    f.set('k', 'v');
    const client = createClient({ endpoint: f.address });
    const answer = await client.approleLogin({ role_id: f.roleId, secret_id: f.secretId });
    expect(answer.auth).toMatchObject({ lease_duration: 60, renewable: true });
    expect(client.token).toBe(answer.auth.client_token);
    expect((await client.read('secret/data/k')).data.data).toEqual({ k: 'v' });
    const [loginRequest, read] = f.requests;
    expect(loginRequest).toMatchObject({ method: 'POST', path: '/v1/auth/approle/login' });
    expect(JSON.parse(loginRequest?.body ?? '')).toEqual({ role_id: f.roleId, secret_id: f.secretId });
    expect(loginRequest?.headers['content-type']).toMatch(/^application\/json/);
    expect(loginRequest?.headers['x-vault-token']).toBeUndefined();
    expect(read?.headers['x-vault-token']).toBe(answer.auth.client_token);
    expect(f.logins).toBe(1);
    const refused = await statusOf(
      createClient({ endpoint: f.address }).approleLogin({ role_id: f.roleId, secret_id: 'wrong' }),
    );
    expect(refused.statusCode).toBe(400);
  });

  it('logs in with kubernetes as node-vault sends it (with mount_point, as the store calls it)', async () => {
    const f = await fake({ kubernetesRole: 'portcullis', kubernetesJwt: 'eyJ.sa.token' });
    const client = createClient({ endpoint: f.address });
    const answer = await client.kubernetesLogin({
      role: 'portcullis',
      jwt: 'eyJ.sa.token',
      mount_point: 'kubernetes',
    });
    expect(typeof answer.auth.client_token).toBe('string');
    expect(client.token).toBe(answer.auth.client_token);
    expect(f.requests[0]).toMatchObject({ method: 'POST', path: '/v1/auth/kubernetes/login' });
    expect(JSON.parse(f.requests[0]?.body ?? '')).toEqual({ role: 'portcullis', jwt: 'eyJ.sa.token' });
    expect(
      (
        await statusOf(
          client.kubernetesLogin({ role: 'portcullis', jwt: 'other', mount_point: 'kubernetes' }),
        )
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await statusOf(
          client.kubernetesLogin({ role: 'nobody', jwt: 'eyJ.sa.token', mount_point: 'kubernetes' }),
        )
      ).statusCode,
    ).toBe(400);
  });

  it('looks a token up and renews it, capping renewals at the max TTL', async () => {
    const f = await fake({ ttlSeconds: 30, maxTtlSeconds: 40 });
    const client = createClient({ endpoint: f.address, token: f.token });
    const looked = await client.tokenLookupSelf();
    expect(looked.data).toMatchObject({ ttl: 30, creation_ttl: 30, renewable: true });
    const renewed = await client.tokenRenewSelf({ increment: 30 });
    expect(renewed.auth).toMatchObject({ lease_duration: 30, renewable: true, client_token: f.token });
    const renewRequest = f.requests[1];
    expect(renewRequest).toMatchObject({ method: 'POST', path: '/v1/auth/token/renew-self' });
    expect(JSON.parse(renewRequest?.body ?? '')).toEqual({ increment: 30 });
    expect(renewRequest?.headers['x-vault-token']).toBe(f.token);
    const capped = await client.tokenRenewSelf({ increment: 60 });
    expect(capped.auth.lease_duration).toBeLessThanOrEqual(40);
    expect(capped.warnings[0]).toMatch(/max_ttl/);
    expect(f.renewals).toBe(2);
  });

  it('refuses to renew a token without a TTL, and refuses a token once it expired or was revoked', async () => {
    const f = await fake();
    const client = createClient({ endpoint: f.address, token: f.token });
    expect((await client.tokenLookupSelf()).data).toMatchObject({ ttl: 0, renewable: false });
    expect((await statusOf(client.tokenRenewSelf({}))).statusCode).toBe(400);
    f.revokeTokens();
    expect((await statusOf(client.tokenLookupSelf())).statusCode).toBe(403);

    const short = await fake({ ttlSeconds: 1 });
    const shortClient = createClient({ endpoint: short.address, token: short.token });
    await shortClient.tokenLookupSelf();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await statusOf(shortClient.tokenLookupSelf())).statusCode).toBe(403);
  });

  it('serves HTTPS: node-vault trusting its CA reads, one that does not is refused', async () => {
    const dir = tempDirForSuite();
    const ca = createTestCa(join(dir, 'ca'));
    const leaf = ca.issue(['127.0.0.1']);
    const f = await fake({ tls: { cert: leaf.certPem, key: leaf.keyPem, caFile: ca.caFile } });
    expect(f.address).toMatch(/^https:\/\/127\.0\.0\.1:/);
    expect(f.env).toEqual({ VAULT_CACERT: ca.caFile });
    f.set('k', 'v');
    const trusting = createClient({ endpoint: f.address, token: f.token, requestOptions: { ca: ca.caPem } });
    expect((await trusting.read('secret/data/k')).data.data).toEqual({ k: 'v' });
    const doubting = createClient({ endpoint: f.address, token: f.token });
    await expect(doubting.read('secret/data/k')).rejects.toThrow(/certificate/);
  });
});
