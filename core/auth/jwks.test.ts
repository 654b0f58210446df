import { generateKeyPairSync, sign } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  createLocalJWKSet,
  exportJWK,
  FlattenedSign,
  flattenedVerify,
  generateKeyPair,
  type JWK,
  SignJWT,
} from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { httpServerForTest } from '../test-support/http-server.ts';
import { newIssuerKey, startTokenIssuer, type TokenIssuer } from '../test-support/token-issuer.ts';
import {
  JWKS_MIN_INTERVAL_MS,
  jwtVerification,
  type KeySet,
  localKeySet,
  remoteKeySet,
  staticKeySet,
  type VerifyJwtOptions,
  verifyJwt,
} from './jwks.ts';
import { TIME_CLAIM_RULES } from './time-claims.ts';

async function issuer(): Promise<TokenIssuer> {
  const started = await startTokenIssuer();
  onTestFinished(() => started.close());
  return started;
}

const verify = (token: string, keys: KeySet) =>
  verifyJwt(token, keys, { algorithms: ['RS256'], timeRules: TIME_CLAIM_RULES.jwt });
const outcome = (token: string, keys: KeySet) =>
  verify(token, keys).then(
    () => 'verified',
    (error: { code?: string }) => error.code ?? 'error',
  );
async function jwksServer(answer: (response: ServerResponse) => void): Promise<string> {
  return `${await httpServerForTest((_request, response) => answer(response))}/jwks`;
}

/** Past the rate limit of the key set's last fetch. */
const afterRateLimit = () => new Promise((resolve) => setTimeout(resolve, JWKS_MIN_INTERVAL_MS + 100));

describe('remoteKeySet: a key rotated under the same kid, or with none, is picked up at once', () => {
  it('same kid: one refetch after the signature fails, then every token verifies with no further fetch', async () => {
    const idp = await issuer();
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    const kid = idp.key.kid ?? null;
    expect(await outcome(await idp.sign({ sub: 'a' }), keys)).toBe('verified');
    expect(idp.jwksFetches).toBe(1);

    await idp.rotate({ kid });
    expect(idp.key.kid).toBe(kid);
    await afterRateLimit();
    expect(await outcome(await idp.sign({ sub: 'b' }), keys)).toBe('verified');
    expect(idp.jwksFetches).toBe(2);
    for (let i = 0; i < 20; i++)
      expect(await outcome(await idp.sign({ sub: `b${i}` }), keys)).toBe('verified');
    // One fetch for the rotation, not one per request.
    expect(idp.jwksFetches).toBe(2);
  });

  it('no kid: keys published without one, rotated, are picked up the same way', async () => {
    const idp = await issuer();
    await idp.rotate({ kid: null });
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    const first = await idp.sign({ sub: 'a' });
    expect(JSON.parse(Buffer.from(first.split('.')[0] ?? '', 'base64url').toString())).not.toHaveProperty(
      'kid',
    );
    expect(await outcome(first, keys)).toBe('verified');
    await idp.rotate({ kid: null });
    await afterRateLimit();
    expect(await outcome(await idp.sign({ sub: 'b' }), keys)).toBe('verified');
    expect(idp.jwksFetches).toBe(2);
  });

  it('a new kid is picked up as before (jose refetched only for this case)', async () => {
    const idp = await issuer();
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    expect(await outcome(await idp.sign({ sub: 'a' }), keys)).toBe('verified');
    await idp.rotate();
    await afterRateLimit();
    expect(await outcome(await idp.sign({ sub: 'b' }), keys)).toBe('verified');
    expect(idp.jwksFetches).toBe(2);
  });

  it('concurrent failures share one refetch', async () => {
    const idp = await issuer();
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    expect(await outcome(await idp.sign({ sub: 'a' }), keys)).toBe('verified');
    await idp.rotate({ kid: idp.key.kid ?? null });
    await afterRateLimit();
    const tokens = await Promise.all(Array.from({ length: 25 }, (_, i) => idp.sign({ sub: `c${i}` })));
    expect(new Set(await Promise.all(tokens.map((token) => outcome(token, keys))))).toEqual(
      new Set(['verified']),
    );
    expect(idp.jwksFetches).toBe(2);
  });

  it('a rotation within a second of the last fetch is picked up once the second has passed', async () => {
    const idp = await issuer();
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    expect(await outcome(await idp.sign({ sub: 'a' }), keys)).toBe('verified');
    await idp.rotate({ kid: idp.key.kid ?? null });
    const rotated = await idp.sign({ sub: 'b' });
    expect(await outcome(rotated, keys)).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    expect(idp.jwksFetches).toBe(1);
    await afterRateLimit();
    expect(await outcome(rotated, keys)).toBe('verified');
  });
});

describe('remoteKeySet: a key jose cannot use, rotated away under the same kid', () => {
  it('a weak RSA key under k1, replaced by a good key under k1, is refetched as a failed signature would be', async () => {
    // A 1024-bit key (Go accepts it, jose does not): what one rotates away from.
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const good = await newIssuerKey('RS256', 'k1');
    let published: JWK[] = [
      { ...weak.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' },
    ];
    let fetches = 0;
    const url = await jwksServer((response) => {
      fetches++;
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: published }));
    });
    const keys = remoteKeySet(url, fetch);
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k1' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'w', iat: Math.floor(Date.now() / 1000) })).toString(
      'base64url',
    );
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), weak.privateKey).toString(
      'base64url',
    );
    expect(await outcome(`${header}.${payload}.${signature}`, keys)).not.toBe('verified');
    expect(fetches).toBe(1);

    published = [good.publicJwk];
    await afterRateLimit();
    const token = await new SignJWT({ sub: 'b', iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(good.privateKey);
    expect(await outcome(token, keys)).toBe('verified');
    expect(fetches).toBe(2);
  });
});

describe('remoteKeySet: forged tokens do not flood the JWKS server', () => {
  it('many forged tokens at once (a known kid, a stranger’s signature) cause one fetch at most', async () => {
    const idp = await issuer();
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    expect(await outcome(await idp.sign({ sub: 'a' }), keys)).toBe('verified');
    await afterRateLimit();
    const stranger = await newIssuerKey('RS256', idp.key.kid ?? null);
    const forged = await Promise.all(
      Array.from({ length: 100 }, (_, i) => idp.sign({ sub: `f${i}` }, { key: stranger })),
    );
    const outcomes = await Promise.all(forged.map((token) => outcome(token, keys)));
    expect(new Set(outcomes)).toEqual(new Set(['ERR_JWS_SIGNATURE_VERIFICATION_FAILED']));
    expect(idp.jwksFetches).toBe(2);
  });

  it('forged tokens sent for 2.5 seconds fetch the key set about once a second, and none verifies', async () => {
    const idp = await issuer();
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    const noKid = await newIssuerKey('RS256', null);
    const sameKid = await newIssuerKey('RS256', idp.key.kid ?? null);
    const outcomes = new Set<string>();
    let sent = 0;
    for (const started = Date.now(); Date.now() - started < 2_500; sent++) {
      outcomes.add(
        await outcome(await idp.sign({ sub: 'x' }, { key: sent % 2 === 0 ? noKid : sameKid }), keys),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(sent).toBeGreaterThan(20);
    expect(outcomes).toEqual(new Set(['ERR_JWS_SIGNATURE_VERIFICATION_FAILED']));
    // The first fetch, then at most one a second.
    expect(idp.jwksFetches).toBeLessThanOrEqual(4);
  });

  it('a failing JWKS server is asked less and less often; stale keys keep verifying meanwhile', async () => {
    const idp = await issuer();
    const keys = remoteKeySet(idp.jwksUrl, fetch, { cacheMaxAgeMs: 200 });
    expect(await outcome(await idp.sign({ sub: 'a' }), keys)).toBe('verified');
    idp.failJwks(503);
    await afterRateLimit();
    // The keys are stale and cannot be fetched again: they still verify a token they signed.
    expect(await outcome(await idp.sign({ sub: 'b' }), keys)).toBe('verified');
    const fetches = idp.jwksFetches;
    for (let i = 0; i < 20; i++) await outcome(await idp.sign({ sub: 'c' }), keys);
    // Backing off (two seconds after the first failure): none of these asked again.
    expect(idp.jwksFetches).toBe(fetches);
  });
});

describe('remoteKeySet: what the JWKS server answers', () => {
  it('refuses an answer that is not a key set, or is too large, and a 5xx carries its status', async () => {
    const idp = await issuer();
    const token = await idp.sign({ sub: 'a' });
    const cases: Array<[(response: ServerResponse) => void, RegExp]> = [
      [(r) => r.writeHead(200, { 'content-type': 'application/json' }).end('not json'), /not JSON/],
      [(r) => r.writeHead(200).end('{"keys":"none"}'), /no "keys" list/],
      [
        (r) => r.writeHead(200).end(`{"keys":[],"pad":"${'x'.repeat(1100 * 1024)}"}`),
        /more than 1048576 bytes/,
      ],
      [(r) => r.writeHead(302, { location: 'http://example.com/' }).end(), /answered 302/],
      [(r) => r.writeHead(503).end(), /answered 503/],
    ];
    for (const [answer, message] of cases) {
      const keys = remoteKeySet(await jwksServer(answer), fetch);
      await expect(verify(token, keys)).rejects.toThrow(message);
      // Before any keys: asked again too soon, a coded error says so rather than asking.
      await expect(verify(token, keys)).rejects.toMatchObject({ code: 'ERR_JWKS_COOLDOWN' });
    }
    // No length given, and no end: reading stops at the limit rather than buffering what comes.
    const endless = remoteKeySet(
      await jwksServer((r) => {
        r.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const write = () => {
          let more = true;
          while (more) more = r.write(chunk);
          r.once('drain', write);
        };
        r.write('{"keys":[');
        write();
      }),
      fetch,
    );
    await expect(verify(token, endless)).rejects.toThrow(/more than 1048576 bytes/);
    const outage = remoteKeySet(await jwksServer((r) => r.writeHead(502).end()), fetch);
    await expect(verify(token, outage)).rejects.toMatchObject({ status: 502 });
  });
});

describe('verifyJwt: options it does not apply are refused, not ignored', () => {
  it('by the compiler and at run time (a JavaScript caller), before any key is asked for', async () => {
    const key = await newIssuerKey('RS256', 'k1');
    const token = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'RS256' }).sign(key.privateKey);
    let asked = 0;
    const keys = staticKeySet(async () => {
      asked++;
      throw new Error('not asked');
    });
    const rules = TIME_CLAIM_RULES.jwt;
    const refused: VerifyJwtOptions[] = [
      // @ts-expect-error -- no maxTokenAge: the time rules decide how old a token may be.
      { timeRules: rules, maxTokenAge: 60 },
      // @ts-expect-error -- no clockTolerance: the time rules hold the leeways.
      { timeRules: rules, clockTolerance: 5 },
      // @ts-expect-error -- no currentDate: `now` says what time it is.
      { timeRules: rules, currentDate: new Date() },
    ];
    for (const options of refused) {
      const name = Object.keys(options).find((key) => key !== 'timeRules');
      await expect(verifyJwt(token, keys, options)).rejects.toThrow(`verifyJwt has no "${name}" option`);
    }
    expect(asked).toBe(0);
  });
});

describe('jwtVerification: verifyJwt made ready once, at once when the key is known', () => {
  const options = { algorithms: ['RS256'], timeRules: TIME_CLAIM_RULES.jwt };

  it('answers at once once the key set knows the key (a JWKS URL or a local set), and agrees with verifyJwt', async () => {
    const idp = await issuer();
    const other = await newIssuerKey('RS256');
    for (const keys of [remoteKeySet(idp.jwksUrl, fetch), await localKeySet({ keys: [idp.key.publicJwk] })]) {
      const verification = jwtVerification(keys, options);
      const first = verification.verify(await idp.sign({ sub: 'first' }));
      expect(first).toBeInstanceOf(Promise);
      expect((await first).payload.sub).toBe('first');
      const token = await idp.sign({ sub: 'second' });
      const second = verification.verify(token);
      expect(second).not.toBeInstanceOf(Promise);
      expect(second).toEqual(await verifyJwt(token, keys, options));
      // A refusal is a rejected promise, never a throw, whether found at once or not.
      const forged = await idp.sign(
        { sub: 'forged' },
        { key: { ...other, kid: idp.key.kid } as typeof other },
      );
      const refusals = [forged, 'not.a.token', `${token}x`, await idp.sign({ exp: 1 })];
      for (const refused of refusals) {
        let answer: unknown;
        expect(() => {
          answer = verification.verify(refused);
        }).not.toThrow();
        await expect(answer).rejects.toHaveProperty('code');
        await expect(verifyJwt(refused, keys, options)).rejects.toThrow();
      }
    }
  });

  it('remembers only keys it found: a made-up kid is looked up every time, and still refused', async () => {
    const idp = await issuer();
    const keys = await localKeySet({ keys: [idp.key.publicJwk] });
    const verification = jwtVerification(keys, options);
    await verification.verify(await idp.sign({}));
    expect(verification.verify(await idp.sign({}))).not.toBeInstanceOf(Promise);
    // Signed by the very key, but naming another: jose finds no key for it, every time.
    for (let i = 0; i < 3; i++) {
      const stranger = await idp.sign({}, { header: { kid: `made-up-${i % 2}` } });
      await expect(verification.verify(stranger)).rejects.toHaveProperty('code', 'ERR_JWKS_NO_MATCHING_KEY');
    }
  });

  it('with ignoreKid, takes a token whatever its kid says, as a PEM file’s keys (which have none) are read', async () => {
    const idp = await issuer();
    const keys = await localKeySet({ keys: [idp.key.publicJwk] }, { ignoreKid: true });
    const verification = jwtVerification(keys, options);
    await verification.verify(await idp.sign({}));
    const elsewhere = await idp.sign({ sub: 'x' }, { header: { kid: 'some-other-kid' } });
    expect(verification.verify(elsewhere)).toMatchObject({ payload: { sub: 'x' } });
  });

  it('refuses options it does not have, and a malformed allow-list, when made rather than at the first token', () => {
    const keys = staticKeySet(async () => {
      throw new Error('never asked');
    });
    expect(() => jwtVerification(keys, { ...options, maxTokenAge: 60 } as never)).toThrow(
      'verifyJwt has no "maxTokenAge" option',
    );
    expect(() => jwtVerification(keys, { ...options, now: 1 } as never)).toThrow(
      /takes "now" with each token/,
    );
    expect(() => jwtVerification(keys, { ...options, algorithms: 'RS256' } as never)).toThrow(
      '"algorithms" option must be an array of strings',
    );
  });
});

describe('localKeySet: the key it remembers for a header', () => {
  it('is the key jose’s own local set picks, also for a JWS whose unprotected header names another kid', async () => {
    // jose picks a key by { ...protected, ...unprotected } header: a JWS in JSON is never answered from memory.
    const a = await generateKeyPair('ES256', { extractable: true });
    const b = await generateKeyPair('ES256', { extractable: true });
    const jwks = {
      keys: [
        { ...(await exportJWK(a.publicKey)), kid: 'a' },
        { ...(await exportJWK(b.publicKey)), kid: 'b' },
      ],
    };
    const jws = (unprotectedKid: string) =>
      new FlattenedSign(new TextEncoder().encode('{"sub":"x"}'))
        .setProtectedHeader({ alg: 'ES256' })
        .setUnprotectedHeader({ kid: unprotectedKid })
        .sign(a.privateKey);
    const remembering = (await localKeySet(jwks)).getKey as unknown as Parameters<typeof flattenedVerify>[1];
    const joses = createLocalJWKSet(jwks) as unknown as Parameters<typeof flattenedVerify>[1];
    const outcome = (token: Awaited<ReturnType<typeof jws>>, getKey: typeof joses) =>
      flattenedVerify(token, getKey).then(
        () => 'accepted',
        (error: { code?: string }) => error.code,
      );
    const first = await jws('a');
    expect(await outcome(first, remembering)).toBe('accepted');
    expect(await outcome(first, joses)).toBe('accepted');
    // Names key b, signed by a: jose's set picks b and refuses it; so must the remembering one.
    const second = await jws('b');
    expect(await outcome(second, joses)).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    expect(await outcome(second, remembering)).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });
});
