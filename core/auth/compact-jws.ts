/**
 * The JWS Compact Serialization (RFC 7515 §7.1), read strictly: `BASE64URL(header) "." BASE64URL(payload) "."
 * BASE64URL(signature)`, each part in base64url as RFC 7515 §2 defines it — the URL-safe alphabet of RFC 4648 §5
 * "with all trailing '=' characters omitted ... and without the inclusion of any line breaks, whitespace, or other
 * additional characters".
 *
 * jose decodes with `atob`, which takes padding (so a signature ending in `==` verified) and skips whitespace;
 * Flipt's go-jose (`parseSignedCompact` in jws.go) splits on `.` into exactly three parts and decodes each with Go's
 * `base64.RawURLEncoding`, which refuses `=`, `+`, `/`, spaces and a length that leaves one character over (it skips
 * `\r` and `\n`, and takes unused bits that are set: both refused here, as no encoder writes them).
 */

const PARTS = ['header', 'payload', 'signature'] as const;
const BASE64URL = /[^A-Za-z0-9_-]/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Whether the part of `token` that ends at `end` (exclusive) and starts after the `.` before it ends canonically: a
 * length some encoding has (not 4n + 1) and, after 2 (3) spare characters, a last one whose low 4 (2) bits are zero.
 */
function canonicalEnd(token: string, end: number): boolean {
  const start = token.lastIndexOf('.', end - 1) + 1;
  const spare = (end - start) % 4;
  if (spare === 0) return true;
  if (spare === 1) return false;
  return (ALPHABET.indexOf(token.charAt(end - 1)) & (spare === 2 ? 0b1111 : 0b11)) === 0;
}

/** A token that is not a compact JWS: the `code` jose gives a malformed one, so callers treat both alike. */
export class CompactJwsError extends Error {
  readonly code = 'ERR_JWS_INVALID';
}

/** A character as a message shows it: printable ASCII quoted, anything else by its code point. */
function shown(character: string): string {
  return /^[!-~]$/.test(character)
    ? `"${character}"`
    : `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * What keeps `token` from being a compact JWS, or `undefined` when it is one: not exactly three parts, an empty part,
 * a character outside the base64url alphabet (padding `=`, `+`, `/`, whitespace, ...), a length no encoding has
 * (4n + 1), or unused low bits of the last character that are not zero — another spelling of the same bytes, which
 * RFC 4648 §3.5 lets a decoder refuse (go-jose takes it; no encoder writes it). The message names the part, the
 * position and what was found there, never the token.
 */
export function compactJwsProblem(token: string): string | undefined {
  // Every token a signer made passes here: three runs of the alphabet, each ending on whole bytes or zero bits.
  if (COMPACT.test(token)) {
    const first = token.indexOf('.');
    const second = token.indexOf('.', first + 1);
    if (canonicalEnd(token, first) && canonicalEnd(token, second) && canonicalEnd(token, token.length))
      return undefined;
  }
  const parts = token.split('.');
  if (parts.length !== 3) {
    return `a compact JWS has 3 parts separated by ".", this token has ${parts.length}`;
  }
  for (const [index, part] of parts.entries()) {
    const name = PARTS[index];
    if (part === '') return `the ${name} part is empty`;
    const bad = BASE64URL.exec(part);
    if (bad !== null) {
      const found = String.fromCodePoint(part.codePointAt(bad.index) ?? 0);
      return `the ${name} part has ${shown(found)} at character ${bad.index + 1}, which unpadded base64url never has`;
    }
    const spare = part.length % 4;
    if (spare === 1)
      return `the ${name} part is ${part.length} characters long, which no base64url encoding is`;
    // The last character of 2 (3) spare ones carries 4 (2) bits past the last whole byte: they must be zero.
    const unusedBits = spare === 2 ? 0b1111 : spare === 3 ? 0b11 : 0;
    if ((ALPHABET.indexOf(part.at(-1) ?? 'A') & unusedBits) !== 0) {
      return `the ${name} part ends in "${part.at(-1)}", whose unused bits are not zero (not canonical base64url)`;
    }
  }
  return undefined;
}

/** Throws a {@link CompactJwsError} saying what is wrong unless `token` is a compact JWS ({@link compactJwsProblem}). */
export function assertCompactJws(token: string): void {
  const problem = compactJwsProblem(token);
  if (problem !== undefined) throw new CompactJwsError(problem);
}
