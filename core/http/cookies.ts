import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticationJson } from '../auth/json.ts';
import type { SessionConfig } from '../config/types.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { MethodStore, SessionHelpers } from '../plugins/contracts.ts';
import { forwardedPrefix } from './forwarded.ts';
import { newLoginState, sameState } from './login-state.ts';
import { DEFAULT_RETURN_TO, safeReturnTo } from './return-to.ts';

/** Flipt's cookie names. */
export const TOKEN_COOKIE = 'flipt_client_token';
export const STATE_COOKIE = 'flipt_client_state';
/**
 * Ours: where the browser goes once a login started from the web UI completes (a path on this origin,
 * percent-encoded), set by the login page's buttons and read (then cleared) by {@link SessionHelpers.completeLogin}.
 */
export const RETURN_TO_COOKIE = 'portcullis_return_to';
/** Ours: the web UI's one-time messages (a login refusal, a new client token), see `ui/flash.ts`. */
export const FLASH_COOKIE = 'portcullis_flash';
/** Every cookie portcullis sets: none of them is the upstream's business. */
export const OWN_COOKIES: readonly string[] = [TOKEN_COOKIE, STATE_COOKIE, RETURN_TO_COOKIE, FLASH_COOKIE];

/** A cookie as Go's `net/http.Cookie` describes one. */
export interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly path?: string;
  readonly domain?: string;
  readonly expires?: Date;
  /** Seconds; a negative number writes `Max-Age=0` (delete now), as Go does for `MaxAge: -1`. */
  readonly maxAge?: number;
  readonly httpOnly?: boolean;
  readonly secure?: boolean;
  readonly sameSite?: 'Strict' | 'Lax' | 'None';
}

/**
 * `Set-Cookie` text exactly as Go's `Cookie.String` writes it (attribute order: Path, Domain, Expires, Max-Age,
 * HttpOnly, Secure, SameSite), so that a browser gets the same cookie from Flipt and portcullis.
 */
export function serializeCookie(cookie: Cookie): string {
  const value = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/.test(cookie.value)
    ? cookie.value
    : `"${cookie.value}"`;
  const parts = [`${cookie.name}=${value}`];
  if (cookie.path !== undefined && cookie.path !== '') parts.push(`Path=${cookie.path}`);
  if (cookie.domain !== undefined && cookie.domain !== '')
    parts.push(`Domain=${cookie.domain.replace(/^\./, '')}`);
  if (cookie.expires !== undefined && cookie.expires.getUTCFullYear() >= 1601) {
    parts.push(`Expires=${cookie.expires.toUTCString()}`);
  }
  if (cookie.maxAge !== undefined && cookie.maxAge !== 0) parts.push(`Max-Age=${Math.max(cookie.maxAge, 0)}`);
  if (cookie.httpOnly) parts.push('HttpOnly');
  if (cookie.secure) parts.push('Secure');
  if (cookie.sameSite !== undefined) parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}

const PAIR_PADDING = /^[ \t]+|[ \t]+$/g;

/**
 * The `name=value` pairs of a `Cookie` header, split on `;` and trimmed of ASCII spaces and tabs only, as Go's
 * `textproto.TrimString` trims them: JavaScript's `trim` would also take 0xA0, the last UTF-8 byte of `à`.
 */
export function cookiePairs(header: string): string[] {
  return header.split(';').map((part) => part.replace(PAIR_PADDING, ''));
}

/**
 * The value of cookie `name` in a `Cookie` header (as Node hands it over: one character per byte), read as Go's
 * `net/http` reads it: no percent-decoding, surrounding double quotes removed, a value with characters a cookie may not
 * hold ignored, the first cookie of that name wins. One difference: bytes above 0x7F are kept (Go drops such a
 * cookie), so that a credential with non-ASCII characters arrives as the bytes the client sent, to be read with
 * `credentialBytes`.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of cookiePairs(header)) {
    const equals = pair.indexOf('=');
    if (equals <= 0 || pair.slice(0, equals) !== name) continue;
    let value = pair.slice(equals + 1);
    if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (
      /^[\x20\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e\u0080-\uffff]*$/.test(value) &&
      !/^ | $/.test(value)
    ) {
      return value;
    }
  }
  return undefined;
}

/** Adds a `Set-Cookie` header (Fastify appends `set-cookie` values rather than replacing them). */
export function appendCookie(reply: FastifyReply, cookie: Cookie): void {
  reply.header('set-cookie', serializeCookie(cookie));
}

/**
 * Sets {@link RETURN_TO_COOKIE}: host-only, `Path=/` (the callback of any method reads it), `HttpOnly`,
 * `SameSite=Lax` (the provider sends the browser back with a cross-site navigation), `Secure` as `session.secure`,
 * and no longer lived than a login's state (`state_lifetime`, ms).
 */
export function setReturnToCookie(reply: FastifyReply, session: SessionConfig, returnTo: string): void {
  appendCookie(reply, {
    name: RETURN_TO_COOKIE,
    value: encodeURIComponent(returnTo),
    path: '/',
    maxAge: Math.max(1, Math.floor(session.state_lifetime / 1000)),
    httpOnly: true,
    secure: session.secure,
    sameSite: 'Lax',
  });
}

/** Expires {@link RETURN_TO_COOKIE}. */
export function clearReturnToCookie(reply: FastifyReply, session: SessionConfig): void {
  appendCookie(reply, {
    name: RETURN_TO_COOKIE,
    value: '',
    path: '/',
    maxAge: -1,
    httpOnly: true,
    secure: session.secure,
    sameSite: 'Lax',
  });
}

/** The path in {@link RETURN_TO_COOKIE}, decoded, or `undefined` (absent or a malformed escape). */
export function readReturnToCookie(request: FastifyRequest): string | undefined {
  const raw = readCookie(request.headers.cookie, RETURN_TO_COOKIE);
  if (raw === undefined || raw === '') return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** The cookie helpers of a session configuration (`MethodContext.session`), and the end of a login. */
export function createSessionHelpers(
  session: SessionConfig,
  options: { readonly store?: MethodStore; readonly now?: () => Date } = {},
): SessionHelpers {
  const now = options.now ?? (() => new Date());
  const domain = session.domain ?? '';
  const clear = (reply: FastifyReply, name: string, sameSite: 'Strict' | 'None') =>
    appendCookie(reply, {
      name,
      value: '',
      path: '/',
      domain,
      maxAge: -1,
      httpOnly: true,
      secure: session.secure,
      sameSite,
    });
  const helpers: SessionHelpers = {
    domain,
    secure: session.secure,
    tokenLifetimeMs: session.token_lifetime,
    stateLifetimeMs: session.state_lifetime,
    setTokenCookie(reply, clientToken, expiresAt) {
      appendCookie(reply, {
        name: TOKEN_COOKIE,
        value: clientToken,
        path: '/',
        domain,
        expires: expiresAt,
        httpOnly: true,
        secure: session.secure,
        sameSite: 'Strict',
      });
    },
    setStateCookie(reply, state, callbackPath) {
      appendCookie(reply, {
        name: STATE_COOKIE,
        value: state,
        path: callbackPath,
        ...(!domain.startsWith('localhost') && { domain }),
        expires: new Date(now().getTime() + session.state_lifetime),
        httpOnly: true,
        secure: session.secure,
        sameSite: 'Lax',
      });
    },
    readStateCookie(request: FastifyRequest) {
      return readCookie(request.headers.cookie, STATE_COOKIE);
    },
    startLogin(request, reply, callbackPath) {
      const { state } = (request.query ?? {}) as { state?: unknown };
      const loginState = newLoginState(typeof state === 'string' ? state : '');
      helpers.setStateCookie(reply, loginState, `${helpers.forwardedPrefix(request)}${callbackPath}`);
      return loginState;
    },
    stateMatches(request, state) {
      return sameState(state, helpers.readStateCookie(request));
    },
    forwardedPrefix(request) {
      return forwardedPrefix(request.headers['x-forwarded-prefix']);
    },
    async completeLogin(request, reply, input) {
      if (options.store === undefined) {
        throw new PortcullisError(ErrorCodes.INTERNAL, 'completeLogin needs the session store');
      }
      const expiresAt = new Date(now().getTime() + session.token_lifetime);
      const { clientToken, authentication } = await options.store.createAuthentication({
        ...input,
        expiresAt,
      });
      helpers.setTokenCookie(reply, clientToken, expiresAt);
      // Only a same-origin path: the forwarded prefix is a plain path or nothing, and a return_to is checked again
      // here (a cookie is client input). Without one (a login not started from the web UI), Flipt's `<prefix>/`.
      const prefix = helpers.forwardedPrefix(request);
      const returnTo = readReturnToCookie(request);
      if (returnTo !== undefined) clearReturnToCookie(reply, session);
      const location =
        returnTo === undefined ? `${prefix}/` : safeReturnTo(returnTo, `${prefix}${DEFAULT_RETURN_TO}`);
      reply.code(302).header('location', location);
      return { clientToken: '', authentication: { ...authenticationJson(authentication) } };
    },
    clearCookies(reply, options = {}) {
      const sameSite = options.sameSite ?? 'Strict';
      clear(reply, TOKEN_COOKIE, sameSite);
      clear(reply, STATE_COOKIE, sameSite);
    },
  };
  return helpers;
}
