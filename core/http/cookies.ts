import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { authenticationJson } from '../auth/json.ts';
import type { SessionConfig } from '../config/types.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { MethodStore, SessionHelpers } from '../plugins/contracts.ts';
import { forwardedPrefix } from './forwarded.ts';
import { MAX_ORIGINAL_STATE, newLoginState, sameState } from './login-state.ts';
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

/**
 * The header that marks a request the gRPC server makes of a method's route, in process (`app.inject`), for one of
 * Flipt's method RPCs (`AuthorizeURL`, `Callback`, ...). Its value is a secret of this process, so a request that
 * was not made here cannot carry it; {@link recogniseGrpcCalls} takes it off every request all the same.
 */
export const GRPC_CALL_HEADER = 'x-portcullis-grpc-call';
const GRPC_CALL_SECRET = randomBytes(32).toString('base64url');
/** The requests (their `raw` side) recognised as in-process gRPC calls. */
const grpcCalls = new WeakSet<object>();

/** The header to inject a method's route with, for a gRPC call; see {@link SessionHelpers.isGrpcCall}. */
export function grpcCallHeaders(): Record<string, string> {
  return { [GRPC_CALL_HEADER]: GRPC_CALL_SECRET };
}

/**
 * `onRequest` hook, the portcullis plugin's first: takes {@link GRPC_CALL_HEADER} off every request (so that no
 * route, plugin or upstream sees it), and remembers the request as an in-process gRPC call when it carried the
 * secret (compared in constant time) and did not come over a connection. A request from the network is never one,
 * whatever it sends.
 */
export const recogniseGrpcCalls: onRequestHookHandler = (request, _reply, done) => {
  const marker = request.raw.headers[GRPC_CALL_HEADER];
  if (marker !== undefined) {
    delete request.raw.headers[GRPC_CALL_HEADER];
    const expected = Buffer.from(GRPC_CALL_SECRET);
    const given = Buffer.from(typeof marker === 'string' ? marker : '');
    const injected = !(request.raw.socket instanceof Socket);
    if (injected && given.length === expected.length && timingSafeEqual(given, expected)) {
      grpcCalls.add(request.raw);
    }
  }
  done();
};

/**
 * A gRPC caller's `state`, which is the login's state as it is: held to the limit a browser's has (here it is a key
 * in the store rather than part of a cookie).
 */
function callerLoginState(state: string): string {
  if (state.length > MAX_ORIGINAL_STATE) {
    throw new PortcullisError(
      ErrorCodes.INVALID_ARGUMENT,
      `state must be at most ${MAX_ORIGINAL_STATE} characters`,
    );
  }
  return state;
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
      const callerState = typeof state === 'string' ? state : '';
      // Over gRPC the caller's state is the state (Flipt's wrapping and state cookie are its HTTP middleware's).
      if (helpers.isGrpcCall(request)) return callerLoginState(callerState);
      const loginState = newLoginState(callerState);
      helpers.setStateCookie(reply, loginState, `${helpers.forwardedPrefix(request)}${callbackPath}`);
      return loginState;
    },
    stateMatches(request, state) {
      return sameState(state, helpers.readStateCookie(request));
    },
    isGrpcCall(request) {
      return grpcCalls.has(request.raw);
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
      // A gRPC caller gets its client token in the answer: no cookie, no redirect.
      if (helpers.isGrpcCall(request))
        return { clientToken, authentication: { ...authenticationJson(authentication) } };
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
    // Recorded by the method's own helpers (observedSession), which know its name and the audit stream.
    recordLogout() {},
    beginLogin() {},
  };
  return helpers;
}
