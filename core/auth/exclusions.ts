import type { AuthenticationConfig } from '../config/types.ts';

/** The API sections `exclude.evaluation` skips (Flipt's evaluation, client evaluation and legacy servers). */
export const EVALUATION_PREFIXES: readonly string[] = ['/evaluate/v1', '/internal/v1', '/client/v2'];
/** The API section `exclude.ofrep` skips (OFREP evaluation and its event stream). */
export const OFREP_PREFIXES: readonly string[] = ['/ofrep'];

/**
 * The characters a plain path may hold: RFC 3986 §3.3 `pchar` and `/`, less `%` and `;`. Every one of them decodes
 * to itself, whoever decodes and however often. Everything else is refused: `%` (any percent-encoding: `%2e`,
 * `%252e`, `%2F`, `%c0%ae`, even `%61`, since a second decoding or an overlong UTF-8 reading turns it into something
 * else), `%u002e` (IIS's form), `;` (matrix parameters; Tomcat and Spring cut the segment there), `\` (a `/` to
 * Windows and some proxies), raw bytes outside ASCII (read as UTF-8, Latin-1 or a best-fit ASCII character), control
 * characters, spaces, and the other ASCII characters RFC 3986 does not allow in a path (`"`, `<`, `>`, `^`, the
 * backtick, `{`, `|`, `}`), which a router may encode, reject or pass on.
 */
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;

/** A segment that some reader removes or climbs with: `.`, `..` (RFC 3986 §5.2.4), and longer runs of dots. */
const DOT_SEGMENT = /(^|\/)\.+(\/|$)/;

/** The raw path of a request URL: everything before `?` or `#`. */
function rawPath(url: string): string {
  return url.split(/[?#]/, 1)[0] ?? '';
}

/**
 * Whether every router, proxy and upstream reads `path` alike, so that the section it names is the section it
 * reaches: it starts with `/`, is made of {@link PLAIN} characters only (so it decodes to itself: no percent-encoding
 * of any kind), and has no dot segment and no empty segment (`//`) but a trailing slash.
 */
function isPlainPath(path: string): boolean {
  return path.startsWith('/') && PLAIN.test(path) && !DOT_SEGMENT.test(path) && !path.includes('//');
}

function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Whether a request URL falls in an excluded section. The decision is made on the path exactly as written, and only
 * a {@link isPlainPath plain} path can be excluded: one with any percent-encoding, a dot segment, `\`, `//`, `;` or a
 * byte outside printable ASCII is always authenticated, so that no spelling reaches a protected route while looking
 * excluded — Fastify routes `/api/v1/x/../../evaluate/v1` as written, and an upstream or a second proxy that decodes
 * once more serves `/evaluate/v1/%252e%252e/%252e%252e/api/v1/flags` as `/api/v1/flags`. No path Flipt serves in an
 * excluded section needs any of these (flag and namespace keys are `[-_,A-Za-z0-9]`), so refusing them all costs a
 * client nothing but a credential.
 */
export function createExclusionMatcher(
  authentication: Pick<AuthenticationConfig, 'exclude'>,
  extraPrefixes: readonly string[] = [],
): (url: string) => boolean {
  const prefixes = [
    ...(authentication.exclude.evaluation ? EVALUATION_PREFIXES : []),
    ...(authentication.exclude.ofrep ? OFREP_PREFIXES : []),
    // A prefix written with a trailing slash (`/public/`) means the same section as without.
    ...extraPrefixes.map((prefix) => prefix.replace(/\/+$/, '')),
  ];
  if (prefixes.length === 0) return () => false;
  return (url) => {
    const path = rawPath(url);
    return isPlainPath(path) && prefixes.some((prefix) => underPrefix(path, prefix));
  };
}
