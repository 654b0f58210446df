import type { AuthenticationConfig } from '../config/types.ts';

/** The API sections `exclude.evaluation` skips (Flipt's evaluation, client evaluation and legacy servers). */
export const EVALUATION_PREFIXES: readonly string[] = ['/evaluate/v1', '/internal/v1', '/client/v2'];
/** The API section `exclude.ofrep` skips (OFREP evaluation and its event stream). */
export const OFREP_PREFIXES: readonly string[] = ['/ofrep'];

/**
 * The path of a request URL with dot segments resolved and repeated slashes collapsed; with `decodeSlashes`, as
 * a server that decodes `%2F` (and treats `\` as `/`) before routing would see it. `undefined` when the URL has
 * malformed percent-encoding.
 */
export function normalisePath(url: string, decodeSlashes: boolean): string | undefined {
  let path = url.split(/[?#]/, 1)[0] ?? '';
  try {
    path = decodeSlashes ? decodeURIComponent(path).replaceAll('\\', '/') : decodeURI(path);
  } catch {
    return undefined;
  }
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Whether a request URL falls in an excluded section. A path is excluded only when it is under an excluded prefix
 * however it is read (with or without decoding `%2F`), so `/evaluate/v1/..%2F..%2Fapi/v1/flags` cannot slip past.
 */
export function createExclusionMatcher(
  authentication: Pick<AuthenticationConfig, 'exclude'>,
  extraPrefixes: readonly string[] = [],
): (url: string) => boolean {
  const prefixes = [
    ...(authentication.exclude.evaluation ? EVALUATION_PREFIXES : []),
    ...(authentication.exclude.ofrep ? OFREP_PREFIXES : []),
    ...extraPrefixes,
  ];
  if (prefixes.length === 0) return () => false;
  return (url) =>
    [false, true].every((decodeSlashes) => {
      const path = normalisePath(url, decodeSlashes);
      return path !== undefined && prefixes.some((prefix) => underPrefix(path, prefix));
    });
}
