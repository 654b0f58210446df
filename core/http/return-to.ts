/** Where a browser goes after login when it asked for nothing, or for somewhere it may not be sent. */
export const DEFAULT_RETURN_TO = '/auth/ui/';

/** Longer `return_to` values are refused: they travel in a cookie through the login (browsers cap one at ~4 KiB). */
export const MAX_RETURN_TO = 2048;

/** A base that only serves to resolve a path; no request goes there (`.invalid`, RFC 2606 §2). */
const BASE = 'http://return-to.invalid';

/**
 * Control characters (C0, DEL), whitespace and backslashes, refused anywhere in the value itself: browsers drop tabs
 * and newlines from URLs and read `\` as `/` (WHATWG URL, special schemes), so `/\t/evil.example` and
 * `/\evil.example` both mean `//evil.example`.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for.
const UNSAFE = /[\u0000-\u0020\u007f\\]/;

/** One percent-decoding; undefined when the value holds a malformed escape. */
function decodeOnce(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * Whether a value, read as a browser reads a URL (leading and trailing C0 controls and spaces trimmed, tabs and
 * newlines removed, `\` as `/`), starts anywhere but at a path on this origin: no `/` first, `//` (another host), or a
 * scheme.
 */
function leavesOrigin(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: what the WHATWG URL parser strips.
  const read = value.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
  return !read.startsWith('/') || /^[/\\][/\\]/.test(read) || /^[a-z][a-z0-9+.-]*:/i.test(read);
}

/**
 * The path on this origin a browser may be sent back to after login, from a client-given `return_to`; anything else
 * gives `fallback` ({@link DEFAULT_RETURN_TO} unless given). Only a path-absolute reference (`/app/page?x=1`)
 * passes: absolute URLs (`https://evil.example`), scheme-relative ones (`//evil.example`), backslashes
 * (`/\evil.example`), control characters and whitespace (which browsers strip: `/\t/evil.example`), values longer
 * than {@link MAX_RETURN_TO} characters, malformed percent-escapes, and values that, percent-decoded once or several
 * times, would start anywhere else (`%2F%2Fevil.example`, `/%5Cevil.example`, `/%09/evil.example`) are refused. The
 * value returned is the path as the WHATWG URL parser resolves it on this origin (dot segments removed), and is
 * checked again, so that `/..//evil.example` cannot become `//evil.example`.
 *
 * Source of the rule: OWASP's Unvalidated Redirects cheat sheet (allow-list of local paths); the WHATWG URL
 * standard for what browsers strip and how they read `\`.
 */
export function safeReturnTo(value: string | undefined, fallback: string = DEFAULT_RETURN_TO): string {
  if (value === undefined || value === '' || value.length > MAX_RETURN_TO) return fallback;
  // Every layer of percent-encoding must stay on this origin on its own: something may decode it once more on the way
  // (a space or `%5C` inside a path or query is harmless; at the start, `%2F%2F` or `/%09/` is not).
  // (Eight layers at most: no one encodes a real path deeper.)
  if (UNSAFE.test(value)) return fallback;
  let layer: string = value;
  for (let depth = 0; ; depth++) {
    if (depth === 8 || leavesOrigin(layer)) return fallback;
    const decoded = decodeOnce(layer);
    if (decoded === undefined) return fallback;
    if (decoded === layer) break;
    layer = decoded;
  }
  let resolved: URL;
  try {
    resolved = new URL(value, BASE);
  } catch {
    return fallback;
  }
  const path = `${resolved.pathname}${resolved.search}${resolved.hash}`;
  if (resolved.origin !== BASE || UNSAFE.test(path) || leavesOrigin(path)) return fallback;
  return path;
}
