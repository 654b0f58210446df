import type { IncomingHttpHeaders } from 'node:http';
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

/** Judges one request by Go's rules: the refusal message, or `undefined` when it may pass. */
export type CrossOriginCheck = (method: string, headers: IncomingHttpHeaders) => string | undefined;

/**
 * Go's `http.CrossOriginProtection` as Flipt configures it: with a non-empty `session.csrf.key`, every
 * state-changing request (anything but GET, HEAD and OPTIONS) is judged: `Sec-Fetch-Site: same-origin` or `none`
 * passes, any other value is refused; without it, a request passes when it has no `Origin`, or an `Origin` whose
 * host is the `Host` header; origins in `trusted_origins` always pass. `undefined` when protection is off.
 */
export function createCrossOriginCheck(
  session: Pick<SessionConfig, 'csrf'>,
  log: Logger,
): CrossOriginCheck | undefined {
  // One check per configuration (the hook, forward-auth and websockets share it), so its warnings come once.
  if (!checks.has(session.csrf)) checks.set(session.csrf, buildCheck(session, log));
  return checks.get(session.csrf);
}

const checks = new WeakMap<object, CrossOriginCheck | undefined>();

function buildCheck(session: Pick<SessionConfig, 'csrf'>, log: Logger): CrossOriginCheck | undefined {
  const { key, trusted_origins: configured } = session.csrf;
  if (key === undefined || key === '') return undefined;
  const trusted = new Set<string>();
  for (const origin of configured) {
    if (validOrigin(origin)) trusted.add(origin);
    else
      log.warn({ origin }, 'ignoring an invalid csrf.trusted_origins entry (expected scheme://host[:port])');
  }
  return (method, headers) => {
    if (SAFE_METHODS.has(method.toUpperCase())) return undefined;
    const origin = headers.origin ?? '';
    const site = headers['sec-fetch-site'] ?? '';
    if (site === 'same-origin' || site === 'none') return undefined;
    if (site !== '') return trusted.has(origin) ? undefined : FROM_SEC_FETCH_SITE;
    if (origin === '' || parseUrl(origin)?.host === headers.host) return undefined;
    return trusted.has(origin) ? undefined : FROM_ORIGIN;
  };
}

/** Go's plain-text 403 for a request the cross-origin check refuses. */
export function denyCrossOrigin(reply: FastifyReply, message: string) {
  return reply
    .code(403)
    .header('x-content-type-options', 'nosniff')
    .type('text/plain; charset=utf-8')
    .send(`${message}\n`);
}

/**
 * Flipt's CSRF protection as an `onRequest` hook (see {@link createCrossOriginCheck}). Routes that set
 * `config.csrf: false` are exempt; `refused` hears of each request refused (to log it). Returns `undefined` when
 * protection is off.
 */
export function createCsrfHook(
  session: Pick<SessionConfig, 'csrf'>,
  log: Logger,
  refused: (request: FastifyRequest, message: string) => void = () => undefined,
) {
  const check = createCrossOriginCheck(session, log);
  if (check === undefined) return undefined;
  return async function crossOriginProtection(request: FastifyRequest, reply: FastifyReply) {
    if (request.routeOptions.config.csrf === false) return;
    const refusal = check(request.method, request.headers);
    if (refusal === undefined) return;
    refused(request, refusal);
    return denyCrossOrigin(reply, refusal);
  };
}
