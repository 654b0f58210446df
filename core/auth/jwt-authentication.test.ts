import { deepStrictEqual } from 'node:assert';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { authenticationProblem } from '../plugins/instance.ts';
import { newIssuerKey } from '../test-support/token-issuer.ts';
import { jwtVerification, localKeySet } from './jwks.ts';
import { isJwtAuthentication, jwtAuthentication, jwtMetadata, LAZY_NESTING_LEVELS } from './jwt-claims.ts';
import { isParsedClaims, markParsedClaims } from './parsed-claims.ts';
import { TIME_CLAIM_RULES } from './time-claims.ts';

const CLAIMS = {
  iss: 'https://issuer.example',
  sub: 'ada',
  'io.flipt.auth.role': 'admin',
  user: { email: 'ada@example.com', role: ['viewer', 'editor'] },
  exp: 1_900_000_000,
};

/** The plain object the jwt method answered before its metadata was made when first read. */
const plain = (claims: Record<string, unknown>, mapping = {}) => ({
  id: '',
  method: 'METHOD_JWT',
  metadata: jwtMetadata(claims, mapping),
});

/**
 * Claims without an `iss` that count how often metadata is made of them: jwtMetadata asks for `iss` once each time
 * (nothing else here asks for it).
 */
function counted(claims: Record<string, unknown>) {
  let reads = 0;
  const proxy = new Proxy(claims, {
    get(target, key, receiver) {
      if (key === 'iss') reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  // As the kit's verification marks the claims it parsed: only those are made lazily.
  markParsedClaims(proxy);
  return { proxy, reads: () => reads };
}

const { iss: _, ...WITHOUT_ISS } = CLAIMS;

describe('jwtAuthentication', () => {
  it('is seen as the plain authentication it stands for: keys, prototype, JSON, spread, clone, equality, frozen', () => {
    const mapping = { email: '/user/email', role: '/user/role' };
    const made = jwtAuthentication(CLAIMS, mapping);
    const expected = plain(CLAIMS, mapping);
    expect(Object.keys(made)).toEqual(['id', 'method', 'metadata']);
    expect(JSON.stringify(made)).toBe(JSON.stringify(expected));
    expect({ ...made }).toStrictEqual(expected);
    expect(structuredClone(made)).toStrictEqual(expected);
    expect(made).toEqual(expected);
    deepStrictEqual(made, expected);
    expect(Object.getPrototypeOf(made)).toBe(Object.prototype);
    expect(Object.keys(made.metadata)).toEqual(Object.keys(expected.metadata));
    expect(Object.isFrozen(made)).toBe(true);
    expect(Object.isFrozen(made.metadata)).toBe(true);
    expect(() => {
      (made as { metadata: unknown }).metadata = {};
    }).toThrow(TypeError);
  });

  it('makes the metadata on its first read only, then answers the same object', () => {
    const { proxy, reads } = counted({ ...WITHOUT_ISS });
    const made = jwtAuthentication(proxy);
    expect(made.id).toBe('');
    expect(made.method).toBe('METHOD_JWT');
    expect(reads()).toBe(0);
    const first = made.metadata;
    expect(reads()).toBe(1);
    expect(made.metadata).toBe(first);
    expect(reads()).toBe(1);
    expect(first).toEqual(plain(WITHOUT_ISS).metadata);
  });

  it('makes the metadata at once for claims nested deeper than it makes lazily', () => {
    const nested = (levels: number): unknown => (levels === 0 ? 'r' : [nested(levels - 1)]);
    // The claims and `user` are two of the levels.
    for (const [levels, atOnce] of [
      [LAZY_NESTING_LEVELS - 2, false],
      [LAZY_NESTING_LEVELS - 1, true],
    ] as const) {
      const { proxy, reads } = counted({ sub: 'ada', user: { role: nested(levels) } });
      const made = jwtAuthentication(proxy, { role: '/user/role' });
      expect(reads() > 0, `${levels} levels`).toBe(atOnce);
      expect(made.metadata).toEqual(
        jwtMetadata({ sub: 'ada', user: { role: nested(levels) } }, { role: '/user/role' }),
      );
    }
  });

  it('makes the metadata at once of claims JSON.parse does not make, throwing where making it throws', () => {
    for (const odd of [
      { at: new Date(0) },
      { n: 1n },
      { list: [undefined] },
      { nested: Object.create(null) },
    ]) {
      let made: unknown;
      let thrown: unknown;
      try {
        made = jwtMetadata(odd);
      } catch (error) {
        thrown = error;
      }
      if (thrown === undefined) expect(jwtAuthentication(odd).metadata).toEqual(made);
      else expect(() => jwtAuthentication(odd)).toThrow((thrown as Error).message);
    }
    const throwing = {
      get sub(): string {
        throw new Error('unreadable claim');
      },
    };
    expect(() => jwtAuthentication(throwing)).toThrow('unreadable claim');
  });

  it('waits only with claims the kit’s verification parsed: any others have their metadata made at once', () => {
    let reads = 0;
    const unmarked = new Proxy(
      { ...WITHOUT_ISS },
      {
        get(target, key, receiver) {
          if (key === 'iss') reads++;
          return Reflect.get(target, key, receiver);
        },
      },
    );
    jwtAuthentication(unmarked);
    expect(reads).toBe(1);
    // A getter that throws once read again throws here, where the method can refuse the token.
    let gets = 0;
    const twice = {
      sub: 'g',
      get user() {
        gets++;
        if (gets > 1) throw new Error('read again');
        return { role: 'r' };
      },
    };
    expect(() => jwtAuthentication(twice)).toThrow('read again');
  });

  it('reads a mapping now unless it is frozen: later changes and getters cannot reach the metadata', () => {
    const mapping: Record<string, string> = { role: '/user/role' };
    const { proxy } = counted({ ...WITHOUT_ISS });
    const made = jwtAuthentication(proxy, mapping);
    mapping.role = '/sub';
    expect(made.metadata['io.flipt.auth.jwt.role']).toBe('[viewer editor]');
    const throwing = {
      get role(): string {
        throw new Error('unreadable mapping');
      },
    };
    expect(() => jwtAuthentication(counted({ ...WITHOUT_ISS }).proxy, throwing)).toThrow(
      'unreadable mapping',
    );
    expect(() => jwtAuthentication(counted({ ...WITHOUT_ISS }).proxy, Object.freeze(throwing))).toThrow(
      'unreadable mapping',
    );
  });

  it('reads the metadata through an object that inherits from it; through a Proxy, says it cannot', () => {
    const made = jwtAuthentication(counted({ ...WITHOUT_ISS }).proxy);
    expect((Object.create(made) as typeof made).metadata).toEqual(plain(WITHOUT_ISS).metadata);
    expect(() => new Proxy(made, {}).metadata).toThrow(
      'the metadata of a JWT authentication (jwtAuthentication) is read from the authentication itself, not through a Proxy of it',
    );
  });

  it('passes the pipeline’s check of a method’s answer without its metadata being made', () => {
    const { proxy, reads } = counted({ ...WITHOUT_ISS });
    expect(authenticationProblem(jwtAuthentication(proxy))).toBeUndefined();
    expect(reads()).toBe(0);
  });

  it('is told from anything else by a property no copy carries, not by its shape', () => {
    const made = jwtAuthentication(CLAIMS);
    expect(isJwtAuthentication(made)).toBe(true);
    const lookalikes: unknown[] = [
      plain(CLAIMS),
      Object.create(made),
      { ...made },
      structuredClone(made),
      null,
      undefined,
      'METHOD_JWT',
    ];
    for (const value of lookalikes) expect(isJwtAuthentication(value)).toBe(false);
    // A copy is still checked: one with a wrong id is found.
    expect(authenticationProblem({ ...made, id: 7 })).toBe('answered an authentication without a string id');
  });
});

describe('the claims the kit’s verification parses', () => {
  it('are marked as its own, so the methods’ authentications make their metadata lazily; copies are not', async () => {
    const key = await newIssuerKey('RS256', 'k1');
    const token = await new SignJWT({ sub: 'ada', user: { role: 'viewer' } })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key.privateKey);
    const verification = jwtVerification(await localKeySet({ keys: [key.publicJwk] }), {
      algorithms: ['RS256'],
      timeRules: TIME_CLAIM_RULES.jwt,
    });
    const { payload } = await verification.verify(token, Date.now());
    expect(isParsedClaims(payload)).toBe(true);
    expect(isParsedClaims({ ...payload })).toBe(false);
    expect(isParsedClaims(structuredClone(payload))).toBe(false);
  });
});
