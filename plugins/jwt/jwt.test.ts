import { createPublicKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { join } from 'node:path';
import { exportJWK, exportSPKI, importJWK, type JWTPayload, SignJWT } from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { jwtMetadata } from '../../core/plugins/kit/index.ts';
import { serveForTest, type TestServer } from '../../core/test-support/server.ts';
import { createTestCa } from '../../core/test-support/tls.ts';
import { tempDir, tempFiles } from '../../core/test-support/tmp.ts';
import { newIssuerKey, startTokenIssuer, type TokenIssuer } from '../../core/test-support/token-issuer.ts';
import { pemKeys } from './keys.ts';
import { JwtVerifier } from './verifier.ts';

async function issuer(options: Parameters<typeof startTokenIssuer>[0] = {}): Promise<TokenIssuer> {
  const started = await startTokenIssuer(options);
  onTestFinished(() => started.close());
  return started;
}

async function serve(jwt: Record<string, unknown>): Promise<TestServer> {
  return serveForTest({ authentication: { required: true, methods: { jwt: { enabled: true, ...jwt } } } });
}

const jwtHeader = (token: string) => ({ headers: { authorization: `JWT ${token}` } });

async function self(
  t: TestServer,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await t.fetch('/auth/v1/self', jwtHeader(token));
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('jwt: Authorization: JWT with keys from a JWKS URL', () => {
  it('authenticates a valid token, with Flipt’s metadata', async () => {
    const idp = await issuer();
    const t = await serve({ jwks_url: idp.jwksUrl, validate_claims: { issuer: idp.issuer } });
    const token = await idp.sign({
      sub: 'svc-1',
      user: { email: 'mark@flipt.io', name: 'Mark', image: 'https://pics/m.png', role: 'admin', sub: 'u-1' },
      'io.flipt.auth.role': 'editor',
      'io.flipt.auth.level': 3,
    });
    const { status, body } = await self(t, token);
    expect(status).toBe(200);
    expect(body).toEqual({
      id: '',
      method: 'METHOD_JWT',
      metadata: {
        'io.flipt.auth.claims': expect.any(String),
        'io.flipt.auth.jwt.email': 'mark@flipt.io',
        'io.flipt.auth.jwt.issuer': idp.issuer,
        'io.flipt.auth.jwt.name': 'Mark',
        'io.flipt.auth.jwt.picture': 'https://pics/m.png',
        'io.flipt.auth.jwt.role': 'admin',
        'io.flipt.auth.jwt.sub': 'u-1',
        'io.flipt.auth.level': '3',
        'io.flipt.auth.role': 'editor',
      },
    });
  });

  it('refuses with 401, never 500, every token it must not accept', async () => {
    const idp = await issuer();
    const t = await serve({
      jwks_url: idp.jwksUrl,
      validate_claims: { issuer: idp.issuer, subject: 'svc-1', audiences: ['flipt', 'flipt-ui'] },
    });
    const good = { sub: 'svc-1', aud: 'flipt' };
    expect((await self(t, await idp.sign(good))).status).toBe(200);
    const publicPem = createPublicKey({ key: idp.key.publicJwk as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const stranger = await newIssuerKey('RS256', idp.key.kid);
    // The published RSA key itself, used with algorithms Flipt does not accept.
    const signedAs = async (alg: string) =>
      new SignJWT({ ...good, iss: idp.issuer, exp: now() + 60 })
        .setProtectedHeader({ alg, kid: idp.key.kid })
        .sign(await importJWK(await exportJWK(idp.key.privateKey), alg));
    const signedTwice = await idp.sign(good);
    const [header, , signature] = signedTwice.split('.');
    const refused: Array<[string, string | Promise<string>]> = [
      [
        'alg none',
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...good, iss: idp.issuer, exp: now() + 60 })}.`,
      ],
      [
        'HS256 keyed with the RSA public key',
        new SignJWT({ ...good, iss: idp.issuer, exp: now() + 60 })
          .setProtectedHeader({ alg: 'HS256', kid: idp.key.kid })
          .sign(new TextEncoder().encode(publicPem)),
      ],
      ['an unlisted algorithm (RS384), with a key of the JWKS', signedAs('RS384')],
      ['an unlisted algorithm (PS256), with a key of the JWKS', signedAs('PS256')],
      ['another issuer', idp.sign({ ...good, iss: 'https://evil.example' })],
      ['another subject', idp.sign({ ...good, sub: 'svc-2' })],
      ['another audience', idp.sign({ ...good, aud: ['nobody'] })],
      ['expired beyond the minute of leeway', idp.sign({ ...good, iat: now() - 3600, exp: now() - 120 })],
      ['nbf beyond the minute of leeway', idp.sign({ ...good, nbf: now() + 120 })],
      ['no time claims at all', idp.sign({ ...good, iat: undefined, exp: undefined })],
      ['a signature by a key not in the JWKS', idp.sign(good, { key: stranger })],
      [
        'a payload changed after signing',
        `${header}.${b64({ ...good, iss: idp.issuer, sub: 'svc-1', exp: now() + 9999, role: 'admin' })}.${signature}`,
      ],
      ['garbage', 'not-a-token'],
      ['three garbage parts', 'a.b.c'],
      ['64 KiB', `${header}.${'A'.repeat(64 * 1024)}.${signature}`],
    ];
    for (const [what, token] of refused) {
      const { status, body } = await self(t, await token);
      expect(status, what).toBe(401);
      expect(body, what).toEqual({ code: 16, message: 'request was not authenticated', details: [] });
    }
    expect((await t.fetch('/health')).status).toBe(200);
  });

  it('applies hashicorp/cap’s time rules: a minute of leeway, 150 s of life without exp', async () => {
    const idp = await issuer();
    const t = await serve({ jwks_url: idp.jwksUrl });
    const status = async (claims: JWTPayload) => (await self(t, await idp.sign(claims))).status;
    expect(await status({ iat: now() - 3600, exp: now() - 30 })).toBe(200);
    expect(await status({ iat: now() - 200, exp: undefined })).toBe(200);
    expect(await status({ iat: now() - 300, exp: undefined })).toBe(401);
    expect(await status({ iat: undefined, exp: undefined, nbf: now() - 10 })).toBe(200);
    expect(await status({ iat: now() + 120 })).toBe(401);
  });

  it('picks up a rotated key without a restart, and a flood of unknown kids fetches the JWKS at most once a second', async () => {
    const idp = await issuer();
    const t = await serve({ jwks_url: idp.jwksUrl });
    expect((await self(t, await idp.sign({ sub: 'before' }))).status).toBe(200);
    await idp.rotate();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await self(t, await idp.sign({ sub: 'after' }))).status).toBe(200);

    // Made-up key ids for three seconds: the JWKS is asked at most about once a second.
    const stranger = await newIssuerKey();
    const fetchesBefore = idp.jwksFetches;
    const statuses: number[] = [];
    for (const started = Date.now(); Date.now() - started < 3_000; ) {
      const token = await idp.sign({ sub: 'x' }, { key: stranger, header: { kid: randomUUID() } });
      statuses.push((await self(t, token)).status);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(statuses.length).toBeGreaterThan(10);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(idp.jwksFetches - fetchesBefore).toBeLessThanOrEqual(4);
  });

  it('while the JWKS server fails, asks it less and less often, and recovers', async () => {
    const idp = await issuer();
    const t = await serve({ jwks_url: idp.jwksUrl });
    idp.failJwks(500);
    const statuses: number[] = [];
    for (const started = Date.now(); Date.now() - started < 2_500; ) {
      statuses.push((await self(t, await idp.sign({ sub: 'x' }))).status);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(new Set(statuses)).toEqual(new Set([401]));
    // Backing off from one second: 1 + 2 seconds cover the loop, so two or three attempts.
    expect(idp.jwksFetches).toBeLessThanOrEqual(3);
    idp.failJwks(undefined);
    await new Promise((resolve) => setTimeout(resolve, 4_100));
    expect((await self(t, await idp.sign({ sub: 'back' }))).status).toBe(200);
  });
});

describe('jwt: hashicorp/cap’s leeways at their edges, and keys rotated under one kid', () => {
  // Margins of two and three seconds around each edge of the minute, for the time a request takes.
  it('nbf, exp and iat each get a minute, no more', async () => {
    const idp = await issuer();
    const t = await serve({ jwks_url: idp.jwksUrl });
    const status = async (claims: JWTPayload) => (await self(t, await idp.sign(claims))).status;
    expect(await status({ nbf: now() + 58 })).toBe(200);
    expect(await status({ nbf: now() + 63 })).toBe(401);
    expect(await status({ iat: now() - 3600, exp: now() - 58 })).toBe(200);
    expect(await status({ iat: now() - 3600, exp: now() - 63 })).toBe(401);
    expect(await status({ nbf: now() - 10, iat: now() + 58 })).toBe(200);
    expect(await status({ nbf: now() - 10, iat: now() + 63 })).toBe(401);
  });

  for (const [what, kid] of [
    ['the same kid', 'same'],
    ['no kid', null],
  ] as const) {
    it(`a key rotated under ${what} is picked up with one JWKS fetch, not one per request`, async () => {
      const idp = await issuer();
      if (kid === null) await idp.rotate({ kid: null });
      const t = await serve({ jwks_url: idp.jwksUrl });
      expect((await self(t, await idp.sign({ sub: 'before' }))).status).toBe(200);
      const fetches = idp.jwksFetches;
      await idp.rotate({ kid: kid === null ? null : (idp.key.kid ?? null) });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (let i = 0; i < 10; i++)
        expect((await self(t, await idp.sign({ sub: `after-${i}` }))).status).toBe(200);
      expect(idp.jwksFetches - fetches).toBe(1);
    });
  }

  it('a flood of forged tokens under the published kid fetches the JWKS at most about once a second', async () => {
    const idp = await issuer();
    const t = await serve({ jwks_url: idp.jwksUrl });
    expect((await self(t, await idp.sign({ sub: 'a' }))).status).toBe(200);
    const stranger = await newIssuerKey('RS256', idp.key.kid ?? null);
    const fetches = idp.jwksFetches;
    const statuses = await Promise.all(
      Array.from(
        { length: 200 },
        async (_, i) => (await self(t, await idp.sign({ sub: `f${i}` }, { key: stranger }))).status,
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(idp.jwksFetches - fetches).toBeLessThanOrEqual(2);
  });
});

describe('jwt: keys from a PEM file', () => {
  it('reads RSA (SPKI and PKCS#1), EC, Ed25519 and certificates, every key in the file', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');
    const ca = createTestCa(join(tempDir(), 'ca'));
    const certified = ca.issue(['signer.example']);
    const dir = tempFiles({
      'keys.pem': [
        rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }),
        ec.publicKey.export({ type: 'spki', format: 'pem' }),
        await exportSPKI(ed.publicKey),
        certified.certPem,
      ].join('\n'),
    });
    const t = await serve({ public_key_file: join(dir, 'keys.pem') });
    // Identity providers put a kid in every token; keys from a PEM file have none, so it is not looked at.
    const sign = (alg: string, key: Parameters<SignJWT['sign']>[0]) =>
      new SignJWT({ sub: alg, exp: now() + 60 }).setProtectedHeader({ alg, kid: 'some-key-id' }).sign(key);
    const { createPrivateKey } = await import('node:crypto');
    for (const [alg, key] of [
      ['RS256', rsa.privateKey],
      ['RS512', rsa.privateKey],
      ['ES256', ec.privateKey],
      ['EdDSA', ed.privateKey],
      ['ES256', createPrivateKey(certified.keyPem)],
    ] as const) {
      expect((await self(t, await sign(alg, key))).status, alg).toBe(200);
    }
  });

  it('refuses at start-up a file without a usable public key, saying so, and reads only public blocks', async () => {
    const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    const ed448 = generateKeyPairSync('ed448');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = tempFiles({
      'dsa.pem': dsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      'junk.pem': 'not a pem at all',
      'mixed.pem': [
        rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
        ed448.publicKey.export({ type: 'spki', format: 'pem' }),
        rsa.publicKey.export({ type: 'spki', format: 'pem' }),
      ].join('\n'),
    });
    const mixed = await pemKeys(join(dir, 'mixed.pem'));
    expect(mixed.skipped).toEqual([
      'a PRIVATE KEY block (only PUBLIC KEY, RSA PUBLIC KEY and CERTIFICATE blocks are read)',
      'a ed448 key',
    ]);
    await expect(pemKeys(join(dir, 'dsa.pem'))).rejects.toThrow(
      /holds no RSA, ECDSA or Ed25519 public key, only a dsa key/,
    );
    await expect(pemKeys(join(dir, 'junk.pem'))).rejects.toThrow(/failed to parse public key PEM block/);
    await expect(pemKeys(join(dir, 'missing.pem'))).rejects.toThrow(/failed to read key file/);
  });
});

describe('jwt: claims whose metadata is made when first read', () => {
  it('admits a token with its metadata readable everywhere, and never one whose metadata cannot be read', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = tempFiles({ 'key.pem': publicKey.export({ type: 'spki', format: 'pem' }).toString() });
    const t = await serve({ public_key_file: join(dir, 'key.pem'), claims_mapping: { role: '/user/role' } });
    // Claims as text: nested `levels` arrays deep under the mapped role.
    const signed = (levels: number) => {
      const payload = `{"sub":"deep","exp":${now() + 60},"user":{"role":${'['.repeat(levels)}"r"${']'.repeat(levels)}}}`;
      const input = `${b64({ alg: 'RS256' })}.${Buffer.from(payload).toString('base64url')}`;
      return {
        claims: JSON.parse(payload) as Record<string, unknown>,
        token: `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`,
      };
    };
    // Shallow, and deeper than what is made lazily: /self shows the same metadata either way.
    for (const levels of [1, 40]) {
      const { claims, token } = signed(levels);
      const { status, body } = await self(t, token);
      expect(status, `${levels} levels`).toBe(200);
      expect(body.metadata).toEqual(jwtMetadata(claims, { role: '/user/role' }));
    }
    // Deep enough that making the metadata may exhaust the stack (whether it does depends on how far V8 has compiled
    // the code that makes it; the token still under the 16 KiB limit): refused by the method, or admitted with its
    // metadata readable, on every path; never admitted with metadata that cannot be read (a 500 on /self).
    const { token } = signed(5000);
    expect(token.length).toBeLessThan(16 * 1024);
    for (let round = 0; round < 3; round++) {
      const forward = (await t.fetch('/auth/v1/forward', jwtHeader(token))).status;
      const { status, body } = await self(t, token);
      expect([200, 401]).toContain(forward);
      expect([200, 401]).toContain(status);
      if (status === 200)
        expect(typeof (body.metadata as Record<string, unknown>)['io.flipt.auth.claims']).toBe('string');
    }
  });
});

describe('jwt: claims mapping', () => {
  it('maps by Flipt’s defaults, by overrides, skips pointers that lead nowhere, and turns off empty ones', () => {
    const claims = {
      iss: 'https://idp',
      email: 'top@example.com',
      user: { email: 'nested@example.com', name: 'N', role: 'viewer' },
      groups: ['a', 'b'],
    };
    expect(jwtMetadata(claims, {})).toMatchObject({
      'io.flipt.auth.jwt.email': 'nested@example.com',
      'io.flipt.auth.jwt.name': 'N',
      'io.flipt.auth.jwt.role': 'viewer',
    });
    const mapped = jwtMetadata(claims, {
      email: '/email',
      name: '',
      role: '/groups',
      picture: '/nope/deeper',
    });
    expect(mapped['io.flipt.auth.jwt.email']).toBe('top@example.com');
    expect(mapped['io.flipt.auth.jwt.name']).toBeUndefined();
    expect(mapped['io.flipt.auth.jwt.role']).toBe('[a b]');
    expect(mapped['io.flipt.auth.jwt.picture']).toBeUndefined();
    expect(mapped['io.flipt.auth.jwt.sub']).toBeUndefined();
  });

  it('writes io.flipt.auth.claims last, so a claim of that name cannot stand in for it', () => {
    const claims = { iss: 'x', 'io.flipt.auth.claims': '{"role":"admin"}', 'io.flipt.auth.role': 'viewer' };
    const metadata = jwtMetadata(claims);
    expect(JSON.parse(metadata['io.flipt.auth.claims'] ?? '')).toEqual(claims);
    expect(metadata['io.flipt.auth.role']).toBe('viewer');
  });

  it('prints copied claims as Go does (%v of decoded JSON)', () => {
    const metadata = jwtMetadata({
      'io.flipt.auth.n': 1700000000,
      'io.flipt.auth.b': true,
      'io.flipt.auth.m': { z: [1, 'y'], a: null },
    });
    expect(metadata).toMatchObject({
      'io.flipt.auth.n': '1.7e+09',
      'io.flipt.auth.b': 'true',
      'io.flipt.auth.m': 'map[a:<nil> z:[1 y]]',
    });
  });
});

describe('JwtVerifier', () => {
  it('refuses a token over 16 KiB by its UTF-8 bytes, however few characters it has, and no token under', async () => {
    const verifier = new JwtVerifier(
      { getKey: () => Promise.reject(new Error('not asked')) },
      { audiences: [] },
    );
    const tooLong = { code: 'ERR_UNAUTHENTICATED', reason: 'token_too_long' };
    // 5 462 characters of 3 bytes (16 386 bytes), 4 097 of 4 (two UTF-16 units each, 16 388), 16 385 of 1.
    for (const token of ['€'.repeat(5462), '😀'.repeat(4097), 'a'.repeat(16_385), `${'a'.repeat(16_383)}é`]) {
      await expect(verifier.verify(token), `${token.length} characters`).rejects.toMatchObject(tooLong);
    }
    // At the limit and under it, the token is read (and refused for what it is, not for its length).
    for (const token of ['€'.repeat(5461), 'a'.repeat(16_384), `${'a'.repeat(16_382)}é`, '😀'.repeat(4096)]) {
      const refusal = await Promise.resolve(verifier.verify(token)).catch((error: unknown) => error);
      expect(refusal, `${token.length} characters`).not.toMatchObject({ reason: 'token_too_long' });
    }
  });

  it('verifies a repeated token twice (remembered from its second time on), and never serves it from memory past its expiry', async () => {
    const idp = await issuer();
    let lookups = 0;
    const { createLocalJWKSet } = await import('jose');
    const local = createLocalJWKSet({ keys: [idp.key.publicJwk] });
    let clock = Date.now();
    const verifier = new JwtVerifier(
      {
        getKey: (header, token) => {
          lookups++;
          return local(header, token);
        },
      },
      { audiences: [] },
      () => clock,
    );
    const token = await idp.sign({ exp: Math.floor(clock / 1000) + 30 });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toEqual(first);
    expect(lookups).toBe(2);
    for (let i = 0; i < 5; i++) expect(verifier.verify(token)).toEqual(first);
    expect(lookups).toBe(2);
    clock += 95_000; // past exp and its minute of leeway
    await expect(verifier.verify(token)).rejects.toThrow(/exp/);
    expect(lookups).toBe(3);
  });

  it('verifies each of many clients’ unchanging tokens twice at most, however their requests interleave', async () => {
    const idp = await issuer();
    const { createLocalJWKSet } = await import('jose');
    const local = createLocalJWKSet({ keys: [idp.key.publicJwk] });
    let verifications = 0;
    const verifier = new JwtVerifier(
      {
        getKey: (header, token) => {
          verifications++;
          return local(header, token);
        },
      },
      { audiences: [] },
    );
    const clients = await Promise.all(
      Array.from({ length: 300 }, (_, i) => idp.sign({ jti: `client-${i}` })),
    );
    for (let round = 0; round < 5; round++) for (const token of clients) await verifier.verify(token);
    expect(verifications).toBeLessThanOrEqual(2 * clients.length);
  });
});
