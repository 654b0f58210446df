import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { parseUrl } from '../url.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Go's `http.CrossOriginProtection` messages, which Flipt returns. */
const FROM_SEC_FETCH_SITE = 'cross-origin request detected from Sec-Fetch-Site header';
const FROM_ORIGIN =
  'cross-origin request detected, and/or browser is out of date: Sec-Fetch-Site is missing, and Origin does not match Host';

/** Go's `AddTrustedOrigin` rule: `scheme://host[:port]`, nothing more. */
function validOrigin(origin: string): boolean {
  const url = parseUrl(origin);
  return url !== undefined && url.host !== '' && origin === `${url.protocol}//${url.host}`;
}

/**
 * Flipt's CSRF protection: with a non-empty `session.csrf.key`, Go's cross-origin protection on every
 * state-changing request (anything but GET, HEAD and OPTIONS). `Sec-Fetch-Site: same-origin` or `none` passes, any
 * other value is refused; without it, a request passes when it has no `Origin`, or an `Origin` whose host is the
 * `Host` header; origins in `trusted_origins` always pass. A refusal is Go's plain-text 403. Routes that set
 * `config.csrf: false` are exempt. Returns `undefined` when protection is off.
 */
export function createCsrfHook(session: Pick<SessionConfig, 'csrf'>, log: Logger) {
  const { key, trusted_origins: configured } = session.csrf;
  if (key === undefined || key === '') return undefined;
  const trusted = new Set<string>();
  for (const origin of configured) {
    if (validOrigin(origin)) trusted.add(origin);
    else
      log.warn({ origin }, 'ignoring an invalid csrf.trusted_origins entry (expected scheme://host[:port])');
  }

  const deny = (reply: FastifyReply, message: string) =>
    reply
      .code(403)
      .header('x-content-type-options', 'nosniff')
      .type('text/plain; charset=utf-8')
      .send(`${message}\n`);

  return async function crossOriginProtection(request: FastifyRequest, reply: FastifyReply) {
    if (request.routeOptions.config.csrf === false || SAFE_METHODS.has(request.method)) return;
    const origin = request.headers.origin ?? '';
    const site = request.headers['sec-fetch-site'] ?? '';
    if (site === 'same-origin' || site === 'none') return;
    if (site !== '') return trusted.has(origin) ? undefined : deny(reply, FROM_SEC_FETCH_SITE);
    if (origin === '' || parseUrl(origin)?.host === request.headers.host) return;
    return trusted.has(origin) ? undefined : deny(reply, FROM_ORIGIN);
  };
}
