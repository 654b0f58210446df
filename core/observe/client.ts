import type { FastifyRequest } from 'fastify';
import { createAddressMatcher } from '../address.ts';
import type { AuditActor, Authentication } from '../plugins/contracts.ts';

/**
 * Who a request or a gRPC call comes from, as far as it is known, for audit events: the address, then the
 * authentication. Handed down explicitly (AsyncLocalStorage would tax every promise of the process on Node 22).
 */
export interface Client {
  /** The client's address (see {@link clientAddress}; a gRPC call's peer). */
  readonly ip?: string;
  /** Set once the request is authenticated. */
  readonly authentication?: Authentication;
}

/**
 * The client's address as far as it can be believed: the peer's, or, when the peer is a trusted proxy
 * (`gateway.trusted_proxies`), the last address in `X-Forwarded-For` that is not one (read from the right, as each
 * trusted hop appended the address it saw).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: (address: string | undefined) => boolean,
): string | undefined {
  if (!trusted(peer) || forwardedFor === undefined) return peer;
  const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => hop !== '');
  let address = peer;
  for (let i = chain.length - 1; i >= 0 && trusted(address); i--) address = chain[i];
  return address;
}

const matchers = new WeakMap<readonly string[], (address: string | undefined) => boolean>();

/** A Fastify request's client address: {@link clientAddress} past `trustedProxies` (`gateway.trusted_proxies`). */
export function requestIp(request: FastifyRequest, trustedProxies: readonly string[]): string | undefined {
  let trusted = matchers.get(trustedProxies);
  if (trusted === undefined) {
    trusted = createAddressMatcher(trustedProxies);
    matchers.set(trustedProxies, trusted);
  }
  return clientAddress(request.ip, request.headers['x-forwarded-for'], trusted);
}

/**
 * A Fastify request as a {@link Client}: its address ({@link requestIp}, worked out when read) and its
 * authentication as the hook set it (read when the event is made).
 */
export function requestClient(request: FastifyRequest, trustedProxies: readonly string[]): Client {
  return {
    get ip() {
      return requestIp(request, trustedProxies);
    },
    get authentication() {
      return request.authentication;
    },
  };
}

/** Flipt's `io.flipt.auth.{email,name,picture}`, then the method's own (`io.flipt.auth.oidc.email`). */
function metadataValue(metadata: Readonly<Record<string, string>>, method: string, field: string) {
  const value = metadata[`io.flipt.auth.${field}`] || metadata[`io.flipt.auth.${method}.${field}`];
  return value ? value : undefined;
}

/**
 * An audit event's actor, as Flipt's `GetActorFromAuthentication` (`internal/server/authn/server.go`) makes it:
 * `authentication` is the method in lower case without `METHOD_` (`"none"` with no authentication); email, name and
 * picture from the metadata for OIDC, JWT and GitHub only, as Flipt reads them.
 */
export function actorOf(authentication: Authentication | undefined, ip: string | undefined): AuditActor {
  const where = ip === undefined || ip === '' ? {} : { ip };
  if (authentication === undefined) return { authentication: 'none', ...where };
  const method = authentication.method.replace(/^METHOD_/, '').toLowerCase();
  if (method !== 'oidc' && method !== 'jwt' && method !== 'github') {
    return { authentication: method, ...where };
  }
  const { metadata } = authentication;
  const email = metadataValue(metadata, method, 'email');
  const name = metadataValue(metadata, method, 'name');
  const picture = metadataValue(metadata, method, 'picture');
  return {
    authentication: method,
    ...where,
    ...(email !== undefined && { email }),
    ...(name !== undefined && { name }),
    ...(picture !== undefined && { picture }),
  };
}

/** A gRPC call as a {@link Client}: its peer's address, and its authentication once the call's caller is known. */
export class CallClient implements Client {
  readonly ip: string | undefined;
  authentication: Authentication | undefined;

  /** @param peer grpc-js's `call.getPeer()`: `host:port`, `[v6]:port`, or a socket path. */
  constructor(peer: string) {
    const match = /^\[?([^\]]*?)\]?:\d+$/.exec(peer);
    this.ip = match?.[1] || undefined;
  }
}

/** The actor of an event a client caused; `"none"` with no client. */
export function clientActor(client: Client | undefined): AuditActor {
  return actorOf(client?.authentication, client?.ip);
}
