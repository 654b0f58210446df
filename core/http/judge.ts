import type { IncomingHttpHeaders } from 'node:http';
import type { Runtime } from '../runtime.ts';
import { type ClientIp, crossOriginRefused, decide } from './authenticate.ts';
import { createCrossOriginCheck } from './csrf.ts';
import type { GrpcCodeValue } from './errors.ts';
import { identityHeaderNames, identityHeaders } from './identity.ts';

/** A request another proxy asks about: what it says of the original request. */
export interface AskedRequest {
  readonly method: string;
  /** The original request target (path and query). */
  readonly uri: string;
  /** The original request's headers (its credential among them); `host` as the client sent it. */
  readonly headers: IncomingHttpHeaders;
  /** Whether the target can be believed for exclusions (false when two headers naming it disagree). */
  readonly trustworthy: boolean;
  /** The original client's address, asked only for a refusal's audit event. */
  readonly ip?: ClientIp;
}

/** What a proxy is told. */
export type Judgement =
  | { readonly kind: 'allow'; readonly identity: Record<string, string> }
  | { readonly kind: 'cross-origin'; readonly message: string }
  | { readonly kind: 'error'; readonly code: GrpcCodeValue; readonly message: string }
  | { readonly kind: 'unauthenticated' };

/**
 * How a request that another proxy asks about is judged, the same for nginx's `auth_request`, Traefik's and Caddy's
 * forward-auth (`/auth/v1/forward`) and Envoy's `ext_authz` (gRPC): Flipt's cross-origin rules on the original
 * method when `session.csrf.key` is set; `authentication.required` off or an excluded section passes with no
 * identity; otherwise the credential in the original headers through the pipeline (decided and logged once), the
 * identity headers for the upstream when it is accepted.
 */
export function createJudge(runtime: Runtime, isExcluded: (url: string) => boolean) {
  const { authentication, gateway } = runtime.config;
  const names = identityHeaderNames(gateway);
  const crossOrigin = createCrossOriginCheck(authentication.session, runtime.log);
  return async function judge(request: AskedRequest): Promise<Judgement> {
    const refusal = crossOrigin?.(request.method, request.headers);
    if (refusal !== undefined) {
      crossOriginRefused(runtime, request.uri, refusal, request.ip);
      return { kind: 'cross-origin', message: refusal };
    }
    if (!authentication.required || (request.trustworthy && isExcluded(request.uri))) {
      return { kind: 'allow', identity: {} };
    }
    const decision = await decide(runtime, request.headers, request.uri, request.ip);
    if (decision.kind === 'authenticated') {
      return {
        kind: 'allow',
        identity: identityHeaders(names, decision.authentication, runtime.pipeline.identify),
      };
    }
    if (decision.kind === 'error') return decision;
    return { kind: 'unauthenticated' };
  };
}
