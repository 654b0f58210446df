import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forwardablePath } from './proxy.ts';

/** forwardablePath as it was before it skipped decoding paths without a `%`: what it must still answer. */
function decodingEveryPath(url: string): string | undefined {
  if (!url.startsWith('/') || url.includes('#')) return undefined;
  const path = url.split('?', 1)[0] ?? '';
  try {
    decodeURIComponent(path);
  } catch {
    return undefined;
  }
  return path;
}

describe('forwardablePath', () => {
  it('answers the path before the query, and nothing for a target the gateway does not forward', () => {
    expect(forwardablePath('/a/b?x=%zz')).toBe('/a/b');
    expect(forwardablePath('/a%20b?')).toBe('/a%20b');
    expect(forwardablePath('/?')).toBe('/');
    expect(forwardablePath('/bad%zz')).toBeUndefined();
    expect(forwardablePath('/bad%E0%A4')).toBeUndefined();
    expect(forwardablePath('/a#frag')).toBeUndefined();
    expect(forwardablePath('http://host/a')).toBeUndefined();
    expect(forwardablePath('*')).toBeUndefined();
    expect(forwardablePath('/caf\u00e9/\ud800')).toBe('/caf\u00e9/\ud800');
  });

  it('answers as decoding every path did, for any target (escapes good and bad, queries, fragments)', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        '/',
        '?',
        '#',
        '%',
        '%2',
        '%zz',
        '%41',
        '%E0%A4',
        '%E0%A4%A4',
        '%C3%A9',
        '%ED%A0%80',
        'a',
        'é',
      ),
      fc.string({ maxLength: 4 }),
      fc.string({ unit: 'binary', maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.boolean(), (pieces, rooted) => {
        const url = (rooted ? '/' : '') + pieces.join('');
        expect(forwardablePath(url)).toBe(decodingEveryPath(url));
      }),
      { numRuns: 5000 },
    );
  });
});
