import replyFrom from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createAddressMatcher } from '../address.ts';
import { errorCode } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { GrpcCode, sendError } from './errors.ts';
import { HOP_BY_HOP, type Hop, identityHeaderNames, upstreamHeaders } from './identity.ts';

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
  return {
    peer,
    trusted: trusted(peer),
    protocol: encrypted ? 'https' : 'http',
    host: request.raw.headers.host,
  };
}

/**
 * The path of a request target, or `undefined` when it is not one the gateway forwards: absolute-form, `*`, a
 * fragment (no client sends one; the exclusions read the path before `#`, an upstream might not).
 */
export function forwardablePath(url: string): string | undefined {
  if (!url.startsWith('/') || url.includes('#')) return undefined;
  const path = url.split('?', 1)[0] ?? '';
  try {
    decodeURIComponent(path);
  } catch {
    return undefined;
  }
  return path;
}

/**
 * The reverse proxy: every route the application does not serve itself is streamed to `gateway.upstream`, after
 * the authentication hook has let it through, bodies both ways unbuffered. `/auth/v1/*` and `/metrics` stay
 * portcullis's (404 when nothing there answers). The upstream gets the identity headers, never forged ones or
 * portcullis's credentials, and `X-Forwarded-*` for this hop. An upstream slower than `gateway.timeout` to answer is
 * a 504, an unreachable one a 502, both in Flipt's error shape.
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
    reply.request.log.warn(
      { reqId: reply.request.id, reason: error.message, code, upstream: upstream.origin },
      'upstream failed',
    );
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return sendError(reply, GrpcCode.DEADLINE_EXCEEDED, `upstream did not answer within ${timeoutSeconds}`);
    }
    if (code === 'UND_ERR_INVALID_ARG') {
      return sendError(reply, GrpcCode.INVALID_ARGUMENT, 'the request cannot be forwarded as sent');
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
        // A response may rightly pause for long (a server-sent event stream); only its start is timed.
        bodyTimeout: 0,
      },
    });
    const proxy = (request: FastifyRequest, reply: FastifyReply) => {
      const path = forwardablePath(request.url);
      if (path === undefined) {
        return sendError(reply, GrpcCode.INVALID_ARGUMENT, 'the request target cannot be forwarded');
      }
      // The path only: reply-from appends the query string as sent (it would decode a whole URL given to it).
      return reply.from(`${basePath}${path}`, {
        rewriteRequestHeaders: (_request, headers) =>
          upstreamHeaders(headers, {
            names,
            authentication: request.authentication,
            passAuthorization: gateway.pass_authorization,
            hop: hopOf(request, trusted),
          }),
        onError: (errorReply, failure) => onError(errorReply as FastifyReply, failure),
        // The upstream's connection headers describe its hop, not ours to the client.
        rewriteHeaders: (headers) =>
          Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase()))),
        // Never send a request twice: the upstream may not be idempotent, and the client waits.
        retryDelay: () => null,
      });
    };
    const notFound = (_request: FastifyRequest, reply: FastifyReply) =>
      sendError(reply, GrpcCode.NOT_FOUND, 'Not Found');
    const open = { config: { authenticate: false } };
    scope.all('/auth/v1', open, notFound);
    scope.all('/auth/v1/*', open, notFound);
    scope.all('/metrics', open, notFound);
    scope.all('/', proxy);
    scope.all('/*', proxy);
  };
}
