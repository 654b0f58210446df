import type { AuthenticationConfig } from '../config/types.ts';

/** The API sections `exclude.evaluation` skips (Flipt's evaluation, client evaluation and legacy servers). */
export const EVALUATION_PREFIXES: readonly string[] = ['/evaluate/v1', '/internal/v1', '/client/v2'];
/** The API section `exclude.ofrep` skips (OFREP evaluation and its event stream). */
export const OFREP_PREFIXES: readonly string[] = ['/ofrep'];

/**
 * Anything in a raw path that some router, proxy or upstream might read differently from the text as written:
 * dot segments (plain or encoded), encoded or back slashes, empty segments, and `;` (matrix parameters, and the
 * delimiter some routers cut at).
 */
const AMBIGUOUS = /(^|\/)\.{1,2}(\/|$)|%2e|%2f|%5c|\\|\/\/|;/i;

/** The raw path of a request URL: everything before `?` or `#`. */
function rawPath(url: string): string {
  return url.split(/[?#]/, 1)[0] ?? '';
}

function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Whether a request URL falls in an excluded section. The decision is made on the path exactly as written, and only
 * a path that every reader sees alike can be excluded: one with dot segments, encoded slashes or dots, `\`, `//` or
 * `;` is always authenticated, so that no spelling reaches a protected route while looking excluded (Fastify, for one,
 * routes `/api/v1/x/../../evaluate/v1` as written).
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
    return !AMBIGUOUS.test(path) && prefixes.some((prefix) => underPrefix(path, prefix));
  };
}
