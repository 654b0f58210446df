import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { refusedSpellings } from '../../core/test-support/jws-spellings.ts';
import { CLUSTER_ISSUER, cluster } from '../../core/test-support/kubernetes-cluster.ts';
import { bearer, serveForTest, type TestServer } from '../../core/test-support/server.ts';
import { createTestCa } from '../../core/test-support/tls.ts';
import { tempDir } from '../../core/test-support/tmp.ts';
import { newIssuerKey, startTokenIssuer } from '../../core/test-support/token-issuer.ts';
import { createRuntime } from '../../index.ts';

async function serve(methods: Record<string, unknown>): Promise<TestServer> {
  return serveForTest({ authentication: { required: true, methods } });
}

const exchange = (t: TestServer, body: unknown) =>
  t.fetch('/auth/v1/method/kubernetes/serviceaccount', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('kubernetes: service account exchange against a cluster issuer over TLS', () => {
  it('exchanges a service account token for a client token that expires with it', async () => {
    const c = await cluster();
    const t = await serve({ kubernetes: c.config });
    const exp = Math.floor(Date.now() / 1000) + 3;
    const response = await exchange(t, { serviceAccountToken: await c.serviceAccountToken({ exp }) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { clientToken: string; authentication: Record<string, unknown> };
    expect(body.clientToken).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(body.authentication).toMatchObject({
      method: 'METHOD_KUBERNETES',
      expiresAt: new Date(exp * 1000).toISOString().replace('.000Z', 'Z'),
      metadata: {
        'io.flipt.auth.k8s.namespace': 'applications',
        'io.flipt.auth.k8s.pod.name': 'booking-7d9f8',
        'io.flipt.auth.k8s.pod.uid': 'pod-uid-1',
        'io.flipt.auth.k8s.serviceaccount.name': 'booking',
        'io.flipt.auth.k8s.serviceaccount.uid': 'sa-uid-1',
      },
    });
    // Discovery and the JWKS were read with the pod's own token, through the CA of ca_path.
    expect(c.apiServer.authorizations.every((header) => header === 'Bearer pod-token-1')).toBe(true);

    const me = await t.fetch('/auth/v1/self', { headers: bearer(body.clientToken) });
    expect(me.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 200));
    expect((await t.fetch('/auth/v1/self', { headers: bearer(body.clientToken) })).status).toBe(401);
  });

  it('also authenticates the service account token itself as Authorization: JWT (a JWT authentication)', async () => {
    const c = await cluster();
    const t = await serve({ kubernetes: c.config });
    const token = await c.serviceAccountToken();
    const me = await t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${token}` } });
    expect(me.status).toBe(200);
    const body = (await me.json()) as { method: string; metadata: Record<string, string> };
    expect(body.method).toBe('METHOD_JWT');
    expect(body.metadata['io.flipt.auth.jwt.issuer']).toBe(CLUSTER_ISSUER);
    expect(JSON.parse(body.metadata['io.flipt.auth.claims'] ?? '{}')['kubernetes.io'].namespace).toBe(
      'applications',
    );
  });

  it('reads the pod’s token file again for each request to the API server (the kubelet rotates it)', async () => {
    const c = await cluster();
    const t = await serve({ kubernetes: c.config });
    expect((await exchange(t, { serviceAccountToken: await c.serviceAccountToken() })).status).toBe(200);
    writeFileSync(c.tokenPath, 'pod-token-2\n');
    await c.apiServer.rotate();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await exchange(t, { serviceAccountToken: await c.serviceAccountToken() })).status).toBe(200);
    expect(c.apiServer.authorizations.at(-1)).toBe('Bearer pod-token-2');
  });

  it('refuses, with 401 and Flipt’s message, tokens it must not exchange', async () => {
    const c = await cluster();
    const t = await serve({
      kubernetes: {
        ...c.config,
        allowed_namespaces: ['applications'],
        allowed_service_accounts: ['infra/deployer'],
      },
    });
    const other = await startTokenIssuer({ issuer: 'https://other-cluster.example' });
    onTestFinished(() => other.close());
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string | Promise<string>, RegExp]> = [
      [
        'a namespace outside the allow-lists (the lists are not told)',
        c.serviceAccountToken({ namespace: 'payments' }),
        /^verifying service account: service account "payments\/booking" is not allowed$/,
      ],
      [
        'another issuer',
        other.sign({ sub: 'system:serviceaccount:applications:booking', exp: now + 60 }),
        /not issued by this cluster/,
      ],
      [
        'a key the cluster does not publish',
        c
          .serviceAccountToken({})
          .then(async () => c.apiServer.sign({ exp: now + 60 }, { key: await newIssuerKey() })),
        /key|signature/,
      ],
      [
        'an expired token',
        c.serviceAccountToken({ iat: now - 7200, nbf: now - 7200, exp: now - 1 }),
        /expired|exp/,
      ],
      ['no exp', c.serviceAccountToken({ exp: undefined }), /exp/],
      ['garbage', 'garbage', /Invalid|JWS|JWT/],
    ];
    for (const [what, token, reason] of cases) {
      const response = await exchange(t, { serviceAccountToken: await token });
      expect(response.status, what).toBe(401);
      const body = (await response.json()) as { code: number; message: string };
      expect(body.code, what).toBe(16);
      expect(body.message, what).toMatch(/^verifying service account: /);
      expect(body.message, what).toMatch(reason);
    }
    expect((await exchange(t, {})).status).toBe(401);
    expect(
      (
        await exchange(t, {
          serviceAccountToken: await c.serviceAccountToken({ namespace: 'infra', name: 'deployer' }),
        })
      ).status,
    ).toBe(200);
  });

  it('refuses every respelling of a valid token (padding, +, /, whitespace, any part), exchanged or as JWT', async () => {
    const c = await cluster();
    const t = await serve({ kubernetes: c.config });
    const token = await c.serviceAccountToken();
    const asJwt = (value: string) => t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${value}` } });
    expect((await asJwt(token)).status).toBe(200);
    for (const [what, respelled] of refusedSpellings(token)) {
      expect((await asJwt(respelled)).status, what).toBe(401);
      const response = await exchange(t, { serviceAccountToken: respelled });
      expect(response.status, what).toBe(401);
      expect(((await response.json()) as { message: string }).message, what).toMatch(
        /^verifying service account: (a compact JWS has 3 parts|the (header|payload|signature) part )/,
      );
    }
    expect((await exchange(t, { serviceAccountToken: token })).status).toBe(200);
  });

  it('refuses to start when the API server cannot be reached, saying why', async () => {
    const dir = tempDir();
    const ca = createTestCa(join(dir, 'ca'));
    writeFileSync(join(dir, 'token'), 'x');
    await expect(
      createRuntime({
        object: {
          authentication: {
            methods: {
              kubernetes: {
                enabled: true,
                discovery_url: 'https://127.0.0.1:9',
                ca_path: ca.caFile,
                service_account_token_path: join(dir, 'token'),
              },
            },
          },
        },
        env: {},
        logDestination: { write: () => true },
      }),
    ).rejects.toThrow(/configuring kubernetes authentication: discovery at https:\/\/127\.0\.0\.1:9/);
  });
});

describe('kubernetes: rules on both paths', () => {
  it('applies the allow-lists to Authorization: JWT too', async () => {
    const c = await cluster();
    const t = await serve({ kubernetes: { ...c.config, allowed_namespaces: ['applications'] } });
    const asJwt = async (token: string) =>
      (await t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${token}` } })).status;
    expect(await asJwt(await c.serviceAccountToken({ namespace: 'applications' }))).toBe(200);
    expect(await asJwt(await c.serviceAccountToken({ namespace: 'payments' }))).toBe(401);
  });

  it('with audiences, refuses the default token every pod mounts and takes one made for portcullis', async () => {
    const c = await cluster();
    const t = await serve({ kubernetes: { ...c.config, audiences: ['portcullis'] } });
    const defaultToken = await c.serviceAccountToken();
    expect((await exchange(t, { serviceAccountToken: defaultToken })).status).toBe(401);
    const projected = await c.serviceAccountToken({ aud: ['portcullis'] });
    expect((await exchange(t, { serviceAccountToken: projected })).status).toBe(200);
  });

  it('keeps one stored authentication per service account token: exchanging it again replaces the last', async () => {
    const c = await cluster();
    const t = await serve({
      kubernetes: c.config,
      token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } },
    });
    const token = await c.serviceAccountToken();
    const first = (await (await exchange(t, { serviceAccountToken: token })).json()) as {
      clientToken: string;
    };
    const second = (await (await exchange(t, { serviceAccountToken: token })).json()) as {
      clientToken: string;
    };
    expect((await t.fetch('/auth/v1/self', { headers: bearer(first.clientToken) })).status).toBe(401);
    expect((await t.fetch('/auth/v1/self', { headers: bearer(second.clientToken) })).status).toBe(200);
    const listed = await t.fetch('/auth/v1/tokens?method=METHOD_KUBERNETES', {
      headers: bearer('admin-secret'),
    });
    expect(((await listed.json()) as { authentications: unknown[] }).authentications).toHaveLength(1);
  });
});

describe('kubernetes: go-oidc’s leeways at their edges, and the cluster rotating its key', () => {
  const jwtStatus = async (t: TestServer, token: string) =>
    (await t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${token}` } })).status;

  // Margins of two and three seconds around each edge, for the time a request takes.
  it('nbf up to five minutes ahead, exp strictly, iat not compared with the clock', async () => {
    const c = await cluster();
    const t = await serve({ kubernetes: c.config });
    const now = () => Math.floor(Date.now() / 1000);
    expect(await jwtStatus(t, await c.serviceAccountToken({ nbf: now() + 298 }))).toBe(200);
    expect(await jwtStatus(t, await c.serviceAccountToken({ nbf: now() + 303 }))).toBe(401);
    expect(await jwtStatus(t, await c.serviceAccountToken({ exp: now() + 3 }))).toBe(200);
    expect(await jwtStatus(t, await c.serviceAccountToken({ exp: now() - 2 }))).toBe(401);
    expect(await jwtStatus(t, await c.serviceAccountToken({ iat: now() + 3600 }))).toBe(200);
    const nbfAhead = await exchange(t, {
      serviceAccountToken: await c.serviceAccountToken({ nbf: now() + 298 }),
    });
    expect(nbfAhead.status).toBe(200);
    const expired = await exchange(t, {
      serviceAccountToken: await c.serviceAccountToken({ exp: now() - 2 }),
    });
    expect(expired.status).toBe(401);
    // Past what a date can hold: refused as any bad token, never a 500 when the expiry is written.
    const farFuture = await exchange(t, { serviceAccountToken: await c.serviceAccountToken({ exp: 1e308 }) });
    expect(farFuture.status).toBe(401);
    expect(await jwtStatus(t, await c.serviceAccountToken({ exp: 8.64e12 + 1 }))).toBe(401);
  });

  for (const [what, kid] of [
    ['the same kid', 'same'],
    ['no kid', null],
  ] as const) {
    it(`a cluster key rotated under ${what} is picked up with one JWKS fetch`, async () => {
      const c = await cluster();
      if (kid === null) await c.apiServer.rotate({ kid: null });
      const t = await serve({ kubernetes: c.config });
      expect(await jwtStatus(t, await c.serviceAccountToken())).toBe(200);
      const fetches = c.apiServer.jwksFetches;
      await c.apiServer.rotate({ kid: kid === null ? null : (c.apiServer.key.kid ?? null) });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (let i = 0; i < 5; i++) expect(await jwtStatus(t, await c.serviceAccountToken())).toBe(200);
      const exchanged = await exchange(t, { serviceAccountToken: await c.serviceAccountToken() });
      expect(exchanged.status).toBe(200);
      expect(c.apiServer.jwksFetches - fetches).toBe(1);
    });
  }
});

describe('jwt and kubernetes together', () => {
  it('leaves the cluster’s tokens to jwt when jwt.validate_claims names the cluster as issuer', async () => {
    const c = await cluster();
    const t = await serve({
      kubernetes: c.config,
      jwt: {
        enabled: true,
        jwks_url: c.apiServer.jwksUrl,
        validate_claims: { issuer: CLUSTER_ISSUER, audiences: ['flipt'] },
      },
    });
    // jwt cannot reach the cluster's JWKS (its CA is not the system's), so it refuses; what matters is that the
    // audience rule it was given is not skipped by kubernetes taking the token first.
    const token = await c.serviceAccountToken();
    expect((await t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${token}` } })).status).toBe(401);
    expect(t.logs).toContainEqual(expect.objectContaining({ via: 'jwt', outcome: 'unauthenticated' }));
  });

  it('routes a JWT to the method whose issuer it carries', async () => {
    const c = await cluster();
    const idp = await startTokenIssuer();
    onTestFinished(() => idp.close());
    const t = await serve({ kubernetes: c.config, jwt: { enabled: true, jwks_url: idp.jwksUrl } });
    const asJwt = async (token: string) => {
      const response = await t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${token}` } });
      return {
        status: response.status,
        body: (await response.json()) as { metadata?: Record<string, string> },
      };
    };
    const fromCluster = await asJwt(await c.serviceAccountToken());
    expect(fromCluster.status).toBe(200);
    expect(fromCluster.body.metadata?.['io.flipt.auth.jwt.issuer']).toBe(CLUSTER_ISSUER);
    const fromIdp = await asJwt(await idp.sign({ sub: 'ci' }));
    expect(fromIdp.status).toBe(200);
    expect(fromIdp.body.metadata?.['io.flipt.auth.jwt.issuer']).toBe(idp.issuer);
    // A token claiming to come from the cluster but signed by the jwt method's own issuer: kubernetes takes it by
    // its iss and refuses it; it is not handed on to jwt, whose key would verify it.
    const forged = await idp.sign({ sub: 'x', iss: CLUSTER_ISSUER });
    expect((await asJwt(forged)).status).toBe(401);
    expect(t.logs).toContainEqual(expect.objectContaining({ via: 'kubernetes', outcome: 'unauthenticated' }));
  });
});
