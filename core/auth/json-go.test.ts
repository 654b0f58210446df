import { describe, expect, it } from 'vitest';
import { goJson } from './json.ts';

/**
 * Found in review: two values JSON.parse keeps that Go's decoder does not, so the `io.flipt.auth.claims` string
 * differed from Flipt's for the same token.
 * - Go decodes `-0` to float64 -0 and encodes it with strconv.AppendFloat(f, 'f', -1, 64): "-0".
 * - Go decodes a lone surrogate escape (`"\ud800"`) to U+FFFD (decode.go unquoteBytes: "Invalid surrogate; fall back
 *   to replacement rune") and writes that rune as its UTF-8 bytes.
 */
describe('goJson against Go for JSON-parsed claims', () => {
  it('writes -0 as Go does ("-0")', () => {
    const claims = JSON.parse('{"n":-0}');
    expect(Object.is(claims.n, -0)).toBe(true);
    expect(goJson(claims)).toBe('{"n":-0}');
  });

  it('writes a lone surrogate as Go does (U+FFFD, written as itself)', () => {
    const claims = JSON.parse('{"s":"a\\ud800b"}');
    expect(goJson(claims)).toBe('{"s":"a\uFFFDb"}');
  });
});
