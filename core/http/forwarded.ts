import { posix } from 'node:path';

/** A plain absolute path: `/` and unreserved or sub-delimiter characters, no empty, dot or encoded segments. */
const PLAIN_PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*$/;

/**
 * The `X-Forwarded-Prefix` a request came through, joined as Go's `path.Join` does (several values, or one with
 * `..`, collapse to one path); `""` without one. Only a plain absolute path is honoured: anything that could make a
 * redirect built on it leave this origin (`//host`, `\`, a scheme, `%2f`) gives `""`.
 */
export function forwardedPrefix(header: string | string[] | undefined): string {
  const values = header === undefined ? [] : [header].flat().filter((value) => value !== '');
  if (values.length === 0) return '';
  // Go's path.Join also drops a trailing slash; posix.join keeps it.
  const joined = posix.join(...values).replace(/\/+$/, '');
  return PLAIN_PATH.test(joined) && !/(^|\/)\.\.?(\/|$)/.test(joined) ? joined : '';
}
