import { describe, expect, it } from 'vitest';
import { authenticationProblem } from '../plugins/instance.ts';
import { isJwtAuthentication, jwtAuthentication, jwtMetadata } from './jwt-claims.ts';

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

/** Claims that count how often they are read (every read of jwtMetadata lists their keys). */
function counted(claims: Record<string, unknown>) {
  let reads = 0;
  const proxy = new Proxy(claims, {
    ownKeys(target) {
      reads++;
      return Reflect.ownKeys(target);
    },
  });
  return { proxy, reads: () => reads };
}

describe('jwtAuthentication', () => {
  it('is seen as the plain authentication it stands for: keys, JSON, spread, clone, equality, frozen', () => {
    const mapping = { email: '/user/email', role: '/user/role' };
    const made = jwtAuthentication(CLAIMS, mapping);
    const expected = plain(CLAIMS, mapping);
    expect(Object.keys(made)).toEqual(['id', 'method', 'metadata']);
    expect(JSON.stringify(made)).toBe(JSON.stringify(expected));
    expect({ ...made }).toStrictEqual(expected);
    expect(structuredClone(made)).toStrictEqual(expected);
    expect(made).toEqual(expected);
    expect(Object.keys(made.metadata)).toEqual(Object.keys(expected.metadata));
    expect(Object.isFrozen(made)).toBe(true);
    expect(Object.isFrozen(made.metadata)).toBe(true);
    expect(() => {
      (made as { metadata: unknown }).metadata = {};
    }).toThrow(TypeError);
  });

  it('makes the metadata on its first read only, then answers the same object', () => {
    const { proxy, reads } = counted({ ...CLAIMS });
    const made = jwtAuthentication(proxy);
    expect(made.id).toBe('');
    expect(made.method).toBe('METHOD_JWT');
    expect(reads()).toBe(0);
    const first = made.metadata;
    const making = reads();
    expect(making).toBeGreaterThan(0);
    expect(made.metadata).toBe(first);
    expect(reads()).toBe(making);
    expect(first['io.flipt.auth.claims']).toBe(plain(CLAIMS).metadata['io.flipt.auth.claims']);
  });

  it('passes the pipeline’s check of a method’s answer without its metadata being made', () => {
    const { proxy, reads } = counted({ ...CLAIMS });
    expect(authenticationProblem(jwtAuthentication(proxy))).toBeUndefined();
    expect(reads()).toBe(0);
  });

  it('is told from anything else by its private field, not its prototype or shape', () => {
    const made = jwtAuthentication(CLAIMS);
    expect(isJwtAuthentication(made)).toBe(true);
    const lookalikes: unknown[] = [
      plain(CLAIMS),
      Object.create(Object.getPrototypeOf(made) as object),
      { ...made },
      structuredClone(made),
      null,
      undefined,
      'METHOD_JWT',
    ];
    for (const value of lookalikes) expect(isJwtAuthentication(value)).toBe(false);
    // A forged one is still checked: its missing metadata is found.
    expect(authenticationProblem(Object.create(Object.getPrototypeOf(made) as object))).toBe(
      'answered an authentication without a string id',
    );
  });
});
