import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayConfig } from '../config/types.ts';
import type { Authentication } from '../plugins/contracts.ts';
import { cookiePairs, GRPC_CALL_HEADER, OWN_COOKIES } from './cookies.ts';

/** The identity of a caller, as the gateway tells the upstream. */
export interface Identity {
  readonly id: string;
  readonly method: string;
  readonly user: string;
  readonly email: string;
}

/** Who an authentication is, as its own method reads it (its `identity` hook); `undefined` parts fall back. */
export type Identify = (
  authentication: Authentication,
) => { readonly user?: string | undefined; readonly email?: string | undefined } | undefined;

/**
 * The identity of an authentication: `user` and `email` as the method that created it reads its own metadata
 * (its `identity` hook, so a JWT claim named like another method's key cannot pose as that method's identity),
 * `user` falling back to the id (a static token's name) and `email` to nothing.
 */
export function identityOf(authentication: Authentication, identify?: Identify): Identity {
  const own = identify?.(authentication) ?? {};
  return {
    id: authentication.id,
    method: authentication.method,
    user: own.user !== undefined && own.user !== '' ? own.user : authentication.id,
    email: own.email ?? '',
  };
}

/** The identity header names of `gateway.identity_headers`, lower-cased as Node keys incoming headers. */
export function identityHeaderNames(gateway: GatewayConfig): Record<keyof Identity, string> {
  const names = gateway.identity_headers;
  return {
    id: (names.id ?? 'X-Auth-Request-Id').toLowerCase(),
    method: (names.method ?? 'X-Auth-Request-Method').toLowerCase(),
    user: (names.user ?? 'X-Auth-Request-User').toLowerCase(),
    email: (names.email ?? 'X-Auth-Request-Email').toLowerCase(),
  };
}

const SAFE_AS_IS = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * A header value safe to send: printable ASCII as it is, anything else (line breaks, control characters, letters
 * beyond Latin, and `%` itself, so that decoding is unambiguous) percent-encoded as UTF-8, so that metadata cannot
 * inject headers or break the request. Unpaired surrogates become U+FFFD first (they have no UTF-8).
 */
export function headerValue(text: string): string {
  if (SAFE_AS_IS.test(text)) return text;
  const wellFormed = (text as string & { toWellFormed(): string }).toWellFormed();
  return wellFormed.replace(/[^\x20-\x24\x26-\x7e]+/g, (run) => encodeURIComponent(run));
}

/** The identity as headers (empty values left out). */
export function identityHeaders(
  names: Record<keyof Identity, string>,
  authentication: Authentication | undefined,
  identify: Identify | undefined,
): Record<string, string> {
  if (authentication === undefined) return {};
  const identity = identityOf(authentication, identify);
  const headers: Record<string, string> = {};
  for (const key of ['id', 'method', 'user', 'email'] as const) {
    if (identity[key] !== '') headers[names[key]] = headerValue(identity[key]);
  }
  return headers;
}

/**
 * A `Cookie` header without portcullis's own cookies (the session's, and the web UI's `return_to` and one-time
 * messages), or `undefined` when nothing else is left.
 */
function withoutSessionCookies(cookie: string | undefined): string | undefined {
  if (cookie === undefined) return undefined;
  const kept = cookiePairs(cookie).filter(
    (part) => part !== '' && !OWN_COOKIES.some((name) => part.startsWith(`${name}=`)),
  );
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** What the gateway needs to know about the hop it is making. */
export interface Hop {
  /** The peer's address (the client, or the proxy in front of us): no request goes upstream without one. */
  readonly peer: string;
  /** Whether that peer is one of `trusted_proxies`, whose `X-Forwarded-*` headers are believed. */
  readonly trusted: boolean;
  /** `http` or `https`, as the client reached us. */
  readonly protocol: string;
  /** The `Host` the client asked for (the request's own headers may already name the upstream). */
  readonly host: string | undefined;
}

// Anything but lower-case token characters (RFC 9110 §5.6.2) other than `_`: what lower-casing or `_` could change.
const NOT_CANONICAL = /[^-a-z0-9!#$%&'*+.^`|~]/;

/**
 * A header name as servers that map `_` to `-` (CGI, WSGI, PHP, Rack) and ignore case see it. Node hands names in
 * lower case, so most need nothing, and the test costs a fifth of lower-casing every name of every request.
 */
const canonical = (name: string) =>
  NOT_CANONICAL.test(name) ? name.toLowerCase().replaceAll('_', '-') : name;

const canonicalSets = new WeakMap<object, ReadonlySet<string>>();

/** The identity header names as {@link canonical} spells them, computed once per set of names. */
function canonicalNames(names: Record<keyof Identity, string>): ReadonlySet<string> {
  let set = canonicalSets.get(names);
  if (set === undefined) {
    set = new Set(Object.values(names).map(canonical));
    canonicalSets.set(names, set);
  }
  return set;
}

/** The header names a `Connection` header lists (RFC 9110 §7.6.1), lower case; none when it is absent. */
function namesInConnection(connection: string | string[] | undefined): string[] {
  return connection === undefined
    ? []
    : String(connection)
        .split(',')
        .map((name) => name.trim().toLowerCase());
}

/** Headers about the client's connection that only a trusted proxy may set. */
const isForwarding = (name: string) =>
  name.startsWith('x-forwarded-') ||
  name.startsWith('x-original-') ||
  name === 'forwarded' ||
  name === 'x-real-ip' ||
  name === 'x-client-ip' ||
  name === 'true-client-ip';

/**
 * Headers that concern one hop only and cross the gateway in neither direction: the connection options of
 * RFC 9110 §7.6.1 (`Connection`, `Proxy-Connection`, `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`,
 * `Upgrade`) and a proxy's own credentials (`Proxy-Authorization`, `Proxy-Authenticate`), as in the `hopHeaders` of
 * Go's `net/http/httputil/reverseproxy.go`; also `Expect`, which the gateway answers itself, and `HTTP2-Settings`,
 * which belongs to an h2c upgrade. Headers a message's `Connection` names stay on its hop too.
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
  'http2-settings',
]);

/** Whether a header (lower case) stays on its hop: one of {@link HOP_BY_HOP}, or named in `connection`. */
export function staysOnHop(connection: string | string[] | undefined): (name: string) => boolean {
  const listed = namesInConnection(connection);
  return (name) => HOP_BY_HOP.has(name) || listed.includes(name);
}

/**
 * The headers a request goes upstream with: the identity headers replaced (a client cannot forge them, whatever
 * the case or `_` in the name), the `Authorization` header and portcullis's session cookies removed (unless
 * `pass_authorization` keeps the former), hop-by-hop headers removed (a websocket upgrade gets only
 * `Connection: Upgrade` and the client's `Upgrade`, as Go's `ReverseProxy` sends), and `X-Forwarded-*` set for this
 * hop: a trusted proxy's chain extended, anything of the kind from anyone else dropped.
 */
export function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  options: {
    readonly names: Record<keyof Identity, string>;
    readonly authentication: Authentication | undefined;
    /** How the authentication's method reads its identity (the runtime's pipeline). */
    readonly identify?: Identify;
    readonly passAuthorization: boolean;
    readonly hop: Hop;
    readonly upgrade?: boolean;
  },
): IncomingHttpHeaders {
  const identityNames = canonicalNames(options.names);
  const { hop } = options;
  const listedInConnection = namesInConnection(incoming.connection).map(canonical);
  const headers: IncomingHttpHeaders = {};
  for (const name in incoming) {
    const value = incoming[name];
    const key = canonical(name);
    if (identityNames.has(key)) continue;
    if (!hop.trusted && isForwarding(key)) continue;
    if (HOP_BY_HOP.has(key) || listedInConnection.includes(key)) continue;
    // An upgrade request has no body: what follows its headers is the new protocol's.
    if (options.upgrade && key === 'content-length') continue;
    if (key === 'authorization' && !options.passAuthorization) continue;
    // The mark of an in-process gRPC call is portcullis's own (and taken off by a hook that upgrades and gRPC
    // calls do not pass through): it never leaves.
    if (key === GRPC_CALL_HEADER) continue;
    headers[name] = value;
  }
  // What the gateway puts back or builds on is read only from what crossed: a header the client's `Connection`
  // names (its `Cookie` among them) stays on its hop, and a trusted proxy's chain is extended only when it came.
  const cookie = withoutSessionCookies(headers.cookie as string | undefined);
  if (cookie === undefined) delete headers.cookie;
  else headers.cookie = cookie;

  const chain = hop.trusted ? headers['x-forwarded-for'] : undefined;
  const host = (hop.trusted ? headers['x-forwarded-host'] : undefined) ?? hop.host;
  const proto = (hop.trusted ? headers['x-forwarded-proto'] : undefined) ?? hop.protocol;
  const peer = hop.peer.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  headers['x-forwarded-for'] = chain === undefined ? peer : `${String(chain)}, ${peer}`;
  if (host !== undefined) headers['x-forwarded-host'] = host;
  headers['x-forwarded-proto'] = proto;
  if (options.upgrade) {
    headers.connection = 'Upgrade';
    headers.upgrade = incoming.upgrade;
  }
  // Into `headers` itself, not a copy of it: the identity names were left out above, so none is there already.
  return Object.assign(headers, identityHeaders(options.names, options.authentication, options.identify));
}
