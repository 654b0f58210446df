import { constants, generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import fc from 'fast-check';
import { createLocalJWKSet, errors, type JWK, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { fuzz, fuzzTimeout } from '../test-support/fuzz.ts';
import { compactJwsProblem } from './compact-jws.ts';
import { type JwtChecks, joseOptions, type VerificationKey, verifySignedJwt } from './jws-verify.ts';

/**
 * verifySignedJwt against jose's jwtVerify, which it replaces: generated tokens, each a valid one with some things
 * changed (header, `crit`, `b64`, `kid`, `typ`, signature, claims), verified against a key set or a key given
 * directly (of the wrong type, curve, hash or size, private, without the verify usage), with generated options;
 * both must verify it alike or refuse it with the same error (class, code, message, `claim` and `reason`). Where
 * several keys fit, each key jose hands over is compared too.
 */

const ALGS = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;
type Alg = (typeof ALGS)[number];
const KEY_IDS = ['p256', 'p256b', 'p384', 'p521', 'rsa', 'rsab', 'rsa1024', 'ed', 'edb'] as const;
type KeyId = (typeof KEY_IDS)[number];

/** The key that signs each algorithm's tokens, and another of the same kind (a wrong key), where there is one. */
const SIGNER: Record<Alg, { right: KeyId; other?: KeyId }> = {
  ES256: { right: 'p256', other: 'p256b' },
  ES384: { right: 'p384' },
  ES512: { right: 'p521' },
  RS256: { right: 'rsa', other: 'rsab' },
  RS384: { right: 'rsa', other: 'rsab' },
  RS512: { right: 'rsa', other: 'rsab' },
  PS256: { right: 'rsa', other: 'rsab' },
  PS384: { right: 'rsa', other: 'rsab' },
  PS512: { right: 'rsa', other: 'rsab' },
  EdDSA: { right: 'ed', other: 'edb' },
};

interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JsonWebKey;
  readonly privateJwk: JsonWebKey;
}

const pairs = new Map<KeyId, KeyPair>();

function generate(id: KeyId): KeyPair {
  const { privateKey, publicKey } = id.startsWith('rsa')
    ? generateKeyPairSync('rsa', { modulusLength: id === 'rsa1024' ? 1024 : 2048 })
    : id.startsWith('ed')
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', {
          namedCurve: id === 'p384' ? 'P-384' : id === 'p521' ? 'P-521' : 'P-256',
        });
  return {
    privateKey,
    publicKey,
    publicJwk: publicKey.export({ format: 'jwk' }),
    privateJwk: privateKey.export({ format: 'jwk' }),
  };
}

function pair(id: KeyId): KeyPair {
  const found = pairs.get(id);
  if (found === undefined) throw new Error(`no key ${id}`);
  return found;
}

const bits = (alg: Alg) => alg.slice(2);

/** A JWS signature as jose writes it: r ‖ s for ECDSA (or DER when asked), PSS with a salt as long as the hash. */
function signature(alg: Alg, input: string, key: KeyObject, der = false): Buffer {
  const data = Buffer.from(input);
  if (alg === 'EdDSA') return sign(null, data, key);
  const digest = `sha${bits(alg)}`;
  if (alg.startsWith('ES')) return sign(digest, data, { key, dsaEncoding: der ? 'der' : 'ieee-p1363' });
  if (alg.startsWith('PS')) {
    return sign(digest, data, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: Number(bits(alg)) / 8,
    });
  }
  return sign(digest, data, key);
}

/** WebCrypto's parameters for a key used with `alg`. */
function importParams(alg: Alg): Parameters<typeof crypto.subtle.importKey>[2] {
  if (alg === 'EdDSA') return { name: 'Ed25519' };
  if (alg.startsWith('ES'))
    return { name: 'ECDSA', namedCurve: { 256: 'P-256', 384: 'P-384', 512: 'P-521' }[bits(alg)] as string };
  return { name: alg.startsWith('PS') ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits(alg)}` };
}

const NOW = Date.UTC(2026, 0, 1);
const NOW_S = NOW / 1000;
const ISS = 'https://issuer.example';
const AUD = 'client';
const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
/** Bytes that are not UTF-8. */
const NOT_UTF8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);

/**
 * `usual` six times in seven, else one of `others`: each of a token's dozen features is changed now and then, so that
 * a good share of the tokens get as far as each check (a signature, a claim) with one thing wrong.
 */
function mostly<T>(usual: T, ...others: T[]): fc.Arbitrary<T> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...others) },
  );
}

const headerCase = fc.record({
  alg: mostly<unknown>('same', 'absent', ...ALGS, 'none', 'HS256', '', 'Ed25519', 'RS1', 5, null),
  kid: mostly('match', 'absent', 'unknown', 'dup', 'number'),
  typ: mostly<unknown>(undefined, 'JWT', 'jwt', 'application/jwt', 'logout+jwt', 'at+jwt', 3),
  crit: mostly<unknown>(
    undefined,
    [],
    ['b64'],
    ['exp'],
    ['x'],
    ['x', 'b64'],
    'b64',
    [''],
    [1],
    ['b64', 'b64'],
    ['__proto__'],
    ['y'],
  ),
  b64: mostly<unknown>(undefined, false, true, 'false'),
  x: fc.constantFrom(undefined, 1, null),
  raw: mostly<string | Buffer | undefined>(
    undefined,
    '[]',
    '1',
    'null',
    '"x"',
    '{',
    '{"alg":"ES256"} ',
    '\ufeff{"alg":"ES256"}',
    NOT_UTF8,
  ),
});

const claimsCase = fc.record({
  iss: mostly<unknown>(ISS, 'https://other.example', undefined, 7),
  sub: mostly<unknown>('user', 'other', undefined),
  aud: mostly<unknown>(AUD, [AUD, 'x'], ['x'], 'x', undefined, [1]),
  exp: mostly<unknown>(NOW_S + 600, NOW_S - 600, undefined, '123', null, -1e300, 1e300),
  nbf: mostly<unknown>(undefined, NOW_S, 1e20, 'x'),
  iat: mostly<unknown>(NOW_S, undefined, 'x', null),
  jti: mostly<unknown>('id', undefined),
  events: mostly<unknown>({ e: {} }, undefined),
  raw: mostly<string | Buffer | undefined>(
    undefined,
    '[]',
    '1',
    '"s"',
    'null',
    '{',
    '',
    '\ufeff{}',
    '{"__proto__":{"iss":"x"}}',
    NOT_UTF8,
  ),
});

const SIGNATURES = [
  'valid',
  'truncated',
  'flipped',
  'empty',
  'appended',
  'other-key',
  'zeros',
  'der',
] as const;
const signatureCase = mostly<(typeof SIGNATURES)[number]>(...SIGNATURES);

const keyCase = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant<'jwks'>('jwks'),
      kids: fc.boolean(),
      signerJwk: mostly<string>('plain', 'alg-same', 'alg-other', 'use-enc', 'ops-sign', 'ops-verify'),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant<'crypto'>('crypto'),
      id: mostly<KeyId | 'signer'>('signer', ...KEY_IDS),
      importAlg: mostly<Alg | 'same'>('same', ...ALGS),
      usages: mostly<'verify'[]>(['verify'], []),
      private: mostly(false, true),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<'keyObject'>('keyObject') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<'jwk'>('jwk') }) },
);

const optionsCase = fc.record({
  algorithms: mostly<string[] | undefined>(
    [...ALGS],
    undefined,
    ['RS256', 'RS512', 'ES256', 'ES512', 'EdDSA'],
    ['RS256'],
    [],
    ['ES256', 'none'],
  ),
  issuer: mostly<string | string[] | undefined>(ISS, undefined, ['x', ISS], 'x'),
  audience: mostly<string | string[] | undefined>(AUD, undefined, ['x', AUD], 'x'),
  subject: mostly<string | undefined>(undefined, 'user', 'x'),
  typ: mostly<string | undefined>(undefined, 'JWT', 'logout+jwt', 'application/jwt'),
  requiredClaims: mostly<string[] | undefined>(undefined, ['jti'], ['iat', 'exp', 'jti', 'events'], ['nope']),
  crit: mostly<Record<string, boolean> | undefined>(undefined, { x: true }, { exp: false }, { b64: false }),
  now: mostly(NOW, Number.NaN),
});

const tokenCase = fc.record({
  alg: fc.constantFrom(...ALGS),
  weakKey: mostly(false, true),
  header: headerCase,
  claims: claimsCase,
  signature: signatureCase,
  key: keyCase,
  options: optionsCase,
});
type TokenCase = typeof tokenCase extends fc.Arbitrary<infer T> ? T : never;

/** Drops the properties whose value is `undefined`, as a caller leaving an option out would. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The token, the key (or key set) to verify it with, and the checks: what `input` describes. */
async function build(input: TokenCase): Promise<{
  token: string;
  key: JWTVerifyGetKey | VerificationKey;
  checks: JwtChecks;
}> {
  const { alg, header: h, claims: c } = input;
  const signerId: KeyId = input.weakKey && alg.startsWith('RS') ? 'rsa1024' : SIGNER[alg].right;
  const signer = pair(signerId);
  const kid = { match: signerId, absent: undefined, unknown: 'nope', dup: 'dup', number: 5 }[h.kid];
  const header = defined({
    alg: h.alg === 'same' ? alg : h.alg === 'absent' ? undefined : h.alg,
    kid,
    typ: h.typ,
    crit: h.crit,
    b64: h.b64,
    x: h.x,
  });
  const encodedHeader = b64url(h.raw ?? JSON.stringify(header));
  const { raw, ...claims } = c;
  const encodedPayload = b64url(raw ?? JSON.stringify(claims));
  const input_ = `${encodedHeader}.${encodedPayload}`;
  const valid = signature(alg, input_, signer.privateKey);
  const otherId = SIGNER[alg].other;
  const flipped = Buffer.from(valid);
  flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] ?? 0) ^ 1;
  const sig = {
    valid,
    truncated: valid.subarray(0, valid.length - 1),
    flipped,
    empty: Buffer.alloc(0),
    appended: Buffer.concat([valid, Buffer.from([0])]),
    'other-key': otherId === undefined ? flipped : signature(alg, input_, pair(otherId).privateKey),
    zeros: Buffer.alloc(valid.length),
    der: alg.startsWith('ES') ? signature(alg, input_, signer.privateKey, true) : flipped,
  }[input.signature];
  const token = `${input_}.${b64url(sig)}`;
  const checks: JwtChecks = defined({ ...input.options });
  return { token, key: await keyFor(input, signerId), checks };
}

async function keyFor(input: TokenCase, signerId: KeyId): Promise<JWTVerifyGetKey | VerificationKey> {
  const { key: k, alg } = input;
  const signer = pair(signerId);
  if (k.kind === 'keyObject') return signer.publicKey;
  if (k.kind === 'jwk') return { ...signer.publicJwk } as JWK;
  if (k.kind === 'crypto') {
    const id = k.id === 'signer' ? signerId : k.id;
    const importAlg = k.importAlg === 'same' ? alg : k.importAlg;
    try {
      return await crypto.subtle.importKey(
        'jwk',
        k.private ? pair(id).privateJwk : pair(id).publicJwk,
        importParams(importAlg),
        true,
        k.private ? ['sign'] : k.usages,
      );
    } catch {
      // A key WebCrypto will not import for that algorithm (an EC key as RSA): the key as a KeyObject instead.
      return pair(id).publicKey;
    }
  }
  const signerJwk: JWK = { ...signer.publicJwk } as JWK;
  if (k.signerJwk === 'alg-same') signerJwk.alg = alg;
  if (k.signerJwk === 'alg-other') signerJwk.alg = alg === 'RS256' ? 'PS256' : 'RS256';
  if (k.signerJwk === 'use-enc') signerJwk.use = 'enc';
  if (k.signerJwk === 'ops-sign') signerJwk.key_ops = ['sign'];
  if (k.signerJwk === 'ops-verify') signerJwk.key_ops = ['verify'];
  const keys: JWK[] = KEY_IDS.filter((id) => id !== signerId).map((id) => ({
    ...(pair(id).publicJwk as JWK),
    ...(k.kids && { kid: id }),
  }));
  keys.push({ ...signerJwk, ...(k.kids && { kid: signerId }) });
  // Two keys under one kid: the signer's and another of its kind.
  const other = SIGNER[alg].other;
  keys.push({ ...signerJwk, kid: 'dup' });
  if (other !== undefined) keys.push({ ...(pair(other).publicJwk as JWK), kid: 'dup' });
  return createLocalJWKSet({ keys });
}

/**
 * What a verification came to: the token's contents, or the error's class, code, message, claim, reason and cause
 * (its class and message: a caller may log it).
 */
async function outcome(run: () => Promise<{ payload: unknown; protectedHeader?: unknown }>) {
  try {
    const { payload, protectedHeader } = await run();
    return { result: { verified: true, payload, protectedHeader }, error: undefined };
  } catch (error) {
    const { name, code, message, claim, reason, cause } = error as Record<string, unknown>;
    const because =
      cause === undefined ? undefined : { name: (cause as Error)?.name, message: (cause as Error)?.message };
    return {
      result: defined({ verified: false, name, code, message, claim, reason, cause: because }),
      error,
    };
  }
}

/** How many cases ended each way, to show that the generated tokens reach every check. */
const seen = new Map<string, number>();

async function compare(
  token: string,
  key: JWTVerifyGetKey | VerificationKey,
  checks: JwtChecks,
): Promise<void> {
  const ours = await outcome(() => verifySignedJwt(token, key, checks));
  const jose = await outcome(() => jwtVerify(token, key, joseOptions(checks)));
  expect(ours.result).toEqual(jose.result);
  const result = ours.result as { verified: boolean; code?: unknown; name?: string };
  // A DOMException's code is a number: its name says more.
  const way = result.verified ? 'verified' : typeof result.code === 'string' ? result.code : `${result.name}`;
  seen.set(way, (seen.get(way) ?? 0) + 1);
  if (result.code === errors.JWKSMultipleMatchingKeys.code) {
    for await (const each of ours.error as AsyncIterable<VerificationKey>) await compare(token, each, checks);
  }
}

describe('verifySignedJwt agrees with jose’s jwtVerify', () => {
  beforeAll(() => {
    for (const id of KEY_IDS) pairs.set(id, generate(id));
  });

  it(
    'on every generated token: accepted alike, or refused with the same error, code, message, claim, reason and cause',
    async () => {
      await fuzz(
        'verifySignedJwt against jwtVerify',
        tokenCase,
        async (input) => {
          const { token, key, checks } = await build(input);
          // Canonical base64url, as verifyJwt lets through (an empty part aside: verifyJwt refuses it first, but
          // both decode it alike, so it is compared too).
          const filled = token.split('.').map((part) => (part === '' ? 'AA' : part));
          expect(compactJwsProblem(filled.join('.'))).toBeUndefined();
          await compare(token, key, checks);
        },
        1500,
      );
      console.log('outcomes:', Object.fromEntries([...seen].sort()));
      // The generator reaches each check: jose's and this file's refusals alike, and verified tokens.
      for (const way of [
        'verified',
        'TypeError',
        errors.JWSInvalid.code,
        errors.JOSENotSupported.code,
        errors.JOSEAlgNotAllowed.code,
        errors.JWKSNoMatchingKey.code,
        errors.JWKSMultipleMatchingKeys.code,
        errors.JWSSignatureVerificationFailed.code,
        errors.JWTInvalid.code,
        errors.JWTClaimValidationFailed.code,
        errors.JWTExpired.code,
      ]) {
        expect(seen.get(way), way).toBeGreaterThan(0);
      }
    },
    fuzzTimeout(120_000),
  );

  it('verifies every algorithm of the allow-lists with node:crypto (WebCrypto not asked), keys not extractable too', async () => {
    const subtleVerify = vi.spyOn(crypto.subtle, 'verify');
    onTestFinished(() => subtleVerify.mockRestore());
    for (const alg of ALGS) {
      const signer = pair(SIGNER[alg].right);
      const input = `${b64url(JSON.stringify({ alg }))}.${b64url(JSON.stringify({ sub: 'user' }))}`;
      const token = `${input}.${b64url(signature(alg, input, signer.privateKey))}`;
      const key = await crypto.subtle.importKey('jwk', signer.publicJwk, importParams(alg), false, [
        'verify',
      ]);
      await expect(verifySignedJwt(token, key, { now: NOW })).resolves.toMatchObject({
        payload: { sub: 'user' },
      });
      const forged = `${input}.${b64url(Buffer.alloc(signature(alg, input, signer.privateKey).length, 1))}`;
      await expect(verifySignedJwt(forged, key, { now: NOW })).rejects.toBeInstanceOf(
        errors.JWSSignatureVerificationFailed,
      );
    }
    expect(subtleVerify).not.toHaveBeenCalled();
  });

  it('hands a key of another kind to jose (a KeyObject, public or private, a JWK), with the same result', async () => {
    const signer = pair('p256');
    const input = `${b64url(JSON.stringify({ alg: 'ES256' }))}.${b64url(JSON.stringify({ sub: 'user' }))}`;
    const token = `${input}.${b64url(signature('ES256', input, signer.privateKey))}`;
    for (const key of [signer.publicKey, signer.privateKey, signer.publicJwk as JWK]) {
      await compare(token, key, { now: NOW });
    }
  });
});
