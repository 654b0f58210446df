import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requestIp } from '../observe/client.ts';
import type { Runtime } from '../runtime.ts';
import { type LoginPage, wantsPage } from './authenticate.ts';
import { skipAbandoned } from './connections.ts';
import { denyCrossOrigin } from './csrf.ts';
import { GrpcCode, sendError, UNAUTHENTICATED_MESSAGE } from './errors.ts';
import { createJudge } from './judge.ts';

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The request a proxy asks about: its URI from `X-Forwarded-Uri` (Traefik, Caddy, and nginx as the README sets it
 * up) or `X-Original-URI`. A client's own headers reach nginx's auth subrequest, so when both are present and
 * differ, one of them is the client's: the request then counts as outside every excluded section.
 */
function originalUri(request: FastifyRequest): { uri: string; trustworthy: boolean } {
  const forwarded = header(request, 'x-forwarded-uri');
  const original = header(request, 'x-original-uri');
  const uri = forwarded ?? original ?? '/';
  return {
    uri: uri.startsWith('/') ? uri : '/',
    trustworthy: forwarded === undefined || original === undefined || forwarded === original,
  };
}

/**
 * `/auth/v1/forward` (any method): forward-auth for nginx `auth_request`, Traefik `forwardAuth` and Caddy
 * `forward_auth`. The proxy sends the client's headers, the original URI and method; the answer is 200 with the
 * identity headers when the request may pass (or needs no credential: `required` off, or an excluded section), else
 * Flipt's 401 with `WWW-Authenticate`. With `gateway.login_url` (or the web UI running) and `?redirect=true` on the
 * forward-auth URL (for Traefik and Caddy, which pass the answer on; nginx only understands 2xx, 401 and 403), a
 * browser asking for a page gets a 302 there instead (the UI's login page, to come back to the original URI).
 * Cross-origin protection, when on, judges the original method.
 */
export function forwardAuth(runtime: Runtime, isExcluded: (url: string) => boolean, loginPage?: LoginPage) {
  const { gateway } = runtime.config;
  const judge = createJudge(runtime, isExcluded);

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', 'no-store');
    const method =
      header(request, 'x-forwarded-method') ?? header(request, 'x-original-method') ?? request.method;
    const host = header(request, 'x-forwarded-host') ?? request.headers.host;
    const { uri, trustworthy } = originalUri(request);
    const judgement = await judge({
      method,
      uri,
      headers: { ...request.headers, host },
      trustworthy,
      ip: () => requestIp(request, gateway.trusted_proxies),
    });
    if (judgement.kind === 'cross-origin') return denyCrossOrigin(reply, judgement.message);
    if (judgement.kind === 'allow') return reply.code(200).headers(judgement.identity).send();
    if (judgement.kind === 'error') return sendError(reply, judgement.code, judgement.message);
    const redirect = (request.query as Record<string, unknown>).redirect === 'true';
    const location = gateway.login_url ?? loginPage?.(request, uri, method);
    if (redirect && location !== undefined && wantsPage(request.headers)) {
      return reply.code(302).header('location', location).send();
    }
    return sendError(reply, GrpcCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
  }

  return (scope: FastifyInstance) => {
    // A proxy's question whose connection failed has no one to hear the answer.
    scope.addHook('preHandler', skipAbandoned);
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
