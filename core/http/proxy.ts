import replyFrom from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createAddressMatcher } from '../address.ts';
import { errorCode } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { GrpcCode, sendError } from './errors.ts';
import { type Hop, identityHeaderNames, upstreamHeaders } from './identity.ts';

/** What reply-from and undici call a slow upstream, and a gone one. */
const TIMEOUT_CODES = new Set([
  'FST_REPLY_FROM_GATEWAY_TIMEOUT',
  'FST_REPLY_FROM_TIMEOUT',
  'FST_REPLY_FROM_HTTP_REQUEST_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The hop a request makes through the gateway: who sent it, whether we believe their `X-Forwarded-*`. */
export function hopOf(request: FastifyRequest, trusted: (address: string | undefined) => boolean): Hop {
  const peer = request.raw.socket.remoteAddress;
  const encrypted = (request.raw.socket as { encrypted?: boolean }).encrypted === true;
  return { peer, trusted: trusted(peer), protocol: encrypted ? 'https' : 'http' };
}

/**
 * The reverse proxy: every route the application does not serve itself (`/auth/v1`, `/health`) is streamed to
 * `gateway.upstream`, after the authentication hook has let it through, bodies both ways unbuffered. The upstream
 * gets the identity headers, never forged ones or portcullis's credentials, and `X-Forwarded-*` for this hop. A
 * slow upstream is a 504 after `gateway.timeout`, an unreachable one a 502, both in Flipt's error shape.
 */
export function reverseProxy(runtime: Runtime) {
  const { gateway } = runtime.config;
  const upstream = new URL(gateway.upstream as string);
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const names = identityHeaderNames(gateway);
  const trusted = createAddressMatcher(gateway.trusted_proxies);
  const timeoutSeconds = `${gateway.timeout / 1000}s`;

  function onError(reply: FastifyReply, { error }: { error: Error }) {
    const code = errorCode(error) ?? errorCode((error as { cause?: unknown }).cause);
    reply.request.log.warn({ reason: error.message, code, upstream: upstream.origin }, 'upstream failed');
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return sendError(reply, GrpcCode.DEADLINE_EXCEEDED, `upstream did not answer within ${timeoutSeconds}`);
    }
    // grpc-gateway has no 502; the body says unavailable, the status that the gateway's upstream is.
    return sendError(reply, GrpcCode.UNAVAILABLE, 'upstream unavailable', 502);
  }

  return async function registerReverseProxy(scope: FastifyInstance): Promise<void> {
    // Bodies are handed to the upstream as they arrive, whatever their type: nothing is parsed or buffered here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    await scope.register(replyFrom, {
      base: upstream.origin,
      disableRequestLogging: true,
      undici: {
        connectTimeout: gateway.timeout,
        headersTimeout: gateway.timeout,
        bodyTimeout: gateway.timeout,
      },
    });
    const proxy = (request: FastifyRequest, reply: FastifyReply) =>
      reply.from(`${basePath}${request.url}`, {
        rewriteRequestHeaders: (_request, headers) =>
          upstreamHeaders(headers, {
            names,
            authentication: request.authentication,
            passAuthorization: gateway.pass_authorization,
            hop: hopOf(request, trusted),
          }),
        onError: (errorReply, failure) => onError(errorReply as FastifyReply, failure),
        // Never send a request twice: the upstream may not be idempotent, and the client waits.
        retryDelay: () => null,
      });
    scope.all('/', proxy);
    scope.all('/*', proxy);
  };
}
