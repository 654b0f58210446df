import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../runtime.ts';
import { decide, wantsPage } from './authenticate.ts';
import { GrpcCode, sendError } from './errors.ts';
import { identityHeaderNames, identityHeaders } from './identity.ts';

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The request a proxy asks about: its URI from `X-Forwarded-Uri` (Traefik, Caddy) or `X-Original-URI` (nginx, as
 * configured in the README), a path on the protected host; anything else counts as `/`.
 */
function originalUri(request: FastifyRequest): string {
  const uri = header(request, 'x-forwarded-uri') ?? header(request, 'x-original-uri') ?? '/';
  return uri.startsWith('/') ? uri : '/';
}

/**
 * `/auth/v1/forward` (any method): forward-auth for nginx `auth_request`, Traefik `forwardAuth` and Caddy
 * `forward_auth`. The proxy sends the client's headers and the original URI; the answer is 200 with the identity
 * headers when the request may pass (or needs no credential: `required` off, or an excluded section), else
 * Flipt's 401 with `WWW-Authenticate`, or, with `gateway.login_url`, a 302 there for a browser asking for a page
 * (Traefik and Caddy pass it on; nginx needs `error_page 401`).
 */
export function forwardAuth(runtime: Runtime, isExcluded: (url: string) => boolean) {
  const { authentication, gateway } = runtime.config;
  const names = identityHeaderNames(gateway);

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const uri = originalUri(request);
    reply.header('cache-control', 'no-store');
    if (!authentication.required || isExcluded(uri)) return reply.code(200).send();
    const decision = await decide(runtime, request.headers, uri);
    if (decision.kind === 'authenticated') {
      return reply.code(200).headers(identityHeaders(names, decision.authentication)).send();
    }
    if (decision.kind === 'error') return sendError(reply, decision.code, decision.message);
    if (gateway.login_url !== undefined && wantsPage(request.headers)) {
      return reply.code(302).header('location', gateway.login_url).send();
    }
    return sendError(reply, GrpcCode.UNAUTHENTICATED, 'request was not authenticated');
  }

  return (scope: FastifyInstance) => {
    scope.route({
      method: [...ALL_METHODS],
      url: '/forward',
      // The credential belongs to the original request, judged here; the proxy's own request is not.
      config: { authenticate: false, csrf: false },
      exposeHeadRoute: false,
      handler: handle,
    });
  };
}
