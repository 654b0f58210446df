import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VerifiedTokens } from './verified-tokens.ts';

/** Which of `keys` are remembered at `now`. */
const remembered = (cache: VerifiedTokens<string>, keys: string[], now = 0) =>
  keys.filter((key) => cache.get(key, now) !== undefined);

describe('VerifiedTokens', () => {
  it('remembers a token by its SHA-256 (base64url), never by its text', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln';
    expect(VerifiedTokens.key(token)).toBe(createHash('sha256').update(token).digest('base64url'));
  });

  it('remembers a token only the second time it is verified: the first only marks it seen', () => {
    const cache = new VerifiedTokens<string>(100);
    const token = 'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJlLW9mLWEtdG9rZW4';
    expect(cache.recall(token, 0)).toBeUndefined();
    expect(cache.remember(token, 'first', 1000)).toBe(false);
    expect(cache.recall(token, 0)).toBeUndefined();
    expect(cache.remember(token, 'second', 1000)).toBe(true);
    expect(cache.recall(token, 0)).toBe('second');
    // By its SHA-256, as set and get keep tokens.
    expect(cache.get(VerifiedTokens.key(token), 0)).toBe('second');
    expect(cache.recall(token, 1000)).toBeUndefined();
  });

  it('keeps none of a flood of tokens each sent once, and still recalls every token it remembered', () => {
    const cache = new VerifiedTokens<string>(100);
    const hot = ['hot-1', 'hot-2', 'hot-3'].map(
      (name) => `eyJhbGciOiJFUzI1NiJ9.e30.${name}-${'s'.repeat(40)}`,
    );
    for (const token of [...hot, ...hot]) cache.remember(token, token, 1000);
    const flood = Array.from(
      { length: 20_000 },
      (_, i) => `eyJhbGciOiJFUzI1NiJ9.e30.once-${i}-${'x'.repeat(16)}`,
    );
    expect(flood.filter((token) => cache.remember(token, token, 1000))).toEqual([]);
    expect(flood.filter((token) => cache.recall(token, 0) !== undefined)).toEqual([]);
    // Found as JwtVerifier asks (recall), not only in the map (get).
    expect(hot.map((token) => cache.recall(token, 0))).toEqual(hot);
    // With set, the same flood pushes them out (the cache's capacity is 100).
    for (const token of flood) cache.set(VerifiedTokens.key(token), token, 1000);
    expect(hot.map((token) => cache.get(VerifiedTokens.key(token), 0))).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('remembers each of many clients’ tokens on its second verification, whatever the others send between', () => {
    // Each noted exactly: no client's note is lost to another's (a table of slots would lose some to collisions).
    const cache = new VerifiedTokens<string>(10_000);
    const clients = Array.from(
      { length: 3000 },
      (_, i) => `eyJhbGciOiJFUzI1NiJ9.e30.${VerifiedTokens.key(`c${i}`)}`,
    );
    for (const token of clients) expect(cache.remember(token, token, 1000)).toBe(false);
    for (const token of clients) expect(cache.remember(token, token, 1000)).toBe(true);
    expect(clients.filter((token) => cache.recall(token, 0) !== token)).toEqual([]);
  });

  it('notes the last `capacity` tokens seen once: one seen longer ago counts as new', () => {
    const cache = new VerifiedTokens<string>(3);
    const token = (i: number) => `eyJhbGciOiJFUzI1NiJ9.e30.${VerifiedTokens.key(`t${i}`)}`;
    for (const i of [0, 1, 2, 3]) cache.remember(token(i), 'x', 1000);
    expect(cache.remember(token(0), 'x', 1000)).toBe(false);
    expect(cache.remember(token(3), 'x', 1000)).toBe(true);
  });

  it('an entry forgotten (expired or pushed out) is no longer recalled, and is noted anew', () => {
    const cache = new VerifiedTokens<string>(2);
    const token = (i: number) => `eyJhbGciOiJFUzI1NiJ9.e30.${VerifiedTokens.key(`f${i}`)}`;
    cache.remember(token(0), 'a', 10);
    cache.remember(token(0), 'a', 10);
    expect(cache.recall(token(0), 5)).toBe('a');
    expect(cache.recall(token(0), 10)).toBeUndefined();
    for (const i of [1, 2]) {
      cache.remember(token(i), 'b', 1000);
      cache.remember(token(i), 'b', 1000);
    }
    expect([1, 2].map((i) => cache.recall(token(i), 0))).toEqual(['b', 'b']);
    cache.remember(token(3), 'c', 1000);
    cache.remember(token(3), 'c', 1000);
    expect([1, 2, 3].map((i) => cache.recall(token(i), 0))).toEqual([undefined, 'b', 'c']);
  });

  it('whatever a token’s fingerprint matches, answers only what was remembered for that very token', () => {
    // Two tokens alike in the characters the fingerprint reads: the second is not taken for the first.
    const cache = new VerifiedTokens<string>(100);
    const tail = 'x'.repeat(40);
    cache.remember(`a.${tail}`, 'a', 1000);
    cache.remember(`a.${tail}`, 'a', 1000);
    expect(cache.recall(`a.${tail}`, 0)).toBe('a');
    expect(cache.recall(`b.${tail}`, 0)).toBeUndefined();
    // Taken for seen, it is remembered on its first verification: harmless, it was verified.
    expect(cache.remember(`b.${tail}`, 'b', 1000)).toBe(true);
    expect(cache.recall(`b.${tail}`, 0)).toBe('b');
    expect(cache.recall(`a.${tail}`, 0)).toBe('a');
  });

  it('answers until the time it was given (exclusive), then forgets', () => {
    const cache = new VerifiedTokens<string>();
    cache.set('a', 'A', 100);
    expect(cache.get('a', 99)).toBe('A');
    expect(cache.get('a', 100)).toBeUndefined();
    // Forgotten, not only hidden: asked again earlier, it is still gone.
    expect(cache.get('a', 0)).toBeUndefined();
  });

  it('past its capacity forgets the oldest first; a token set again counts as new', () => {
    const cache = new VerifiedTokens<string>(3);
    for (const key of ['a', 'b', 'c']) cache.set(key, key, 1);
    cache.set('a', 'a2', 1);
    cache.set('d', 'd', 1);
    expect(remembered(cache, ['a', 'b', 'c', 'd'])).toEqual(['a', 'c', 'd']);
    expect(cache.get('a', 0)).toBe('a2');
    cache.set('e', 'e', 1);
    expect(remembered(cache, ['a', 'c', 'd', 'e'])).toEqual(['a', 'd', 'e']);
  });

  it('an expired token it forgets makes room: nothing newer is pushed out for it', () => {
    const cache = new VerifiedTokens<string>(2);
    cache.set('old', 'old', 10);
    cache.set('b', 'b', 1000);
    expect(cache.get('old', 20)).toBeUndefined();
    cache.set('c', 'c', 1000);
    expect(remembered(cache, ['b', 'c'])).toEqual(['b', 'c']);
  });

  it('through many times its capacity of tokens, new, repeated and expired, agrees with a plain list', () => {
    // The rules, written the slow way: a list oldest first, searched every time.
    const list: Array<{ key: string; value: string; until: number }> = [];
    const reference = {
      set(key: string, value: string, until: number) {
        const at = list.findIndex((entry) => entry.key === key);
        if (at !== -1) list.splice(at, 1);
        else if (list.length >= 100) list.shift();
        list.push({ key, value, until });
      },
      get(key: string, now: number) {
        const at = list.findIndex((entry) => entry.key === key);
        if (at === -1) return undefined;
        if ((list[at]?.until ?? 0) > now) return list[at]?.value;
        list.splice(at, 1);
        return undefined;
      },
    };
    const cache = new VerifiedTokens<string>(100);
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    for (const [i, key] of keys.entries()) {
      const until = i % 3 === 0 ? 1 : 1000;
      cache.set(key, key, until);
      reference.set(key, key, until);
      // Some tokens come again (as the newest), some are asked for once expired (and forgotten).
      const earlier = keys[(i * 7919) % (i + 1)] as string;
      if (i % 5 === 0) {
        cache.set(earlier, `${i}`, 1000);
        reference.set(earlier, `${i}`, 1000);
      }
      expect(cache.get(earlier, 5)).toBe(reference.get(earlier, 5));
    }
    const kept = list.map((entry) => entry.key);
    expect(remembered(cache, keys)).toEqual(keys.filter((key) => kept.includes(key)));
    expect(kept.length).toBeGreaterThan(50);
  });
});
