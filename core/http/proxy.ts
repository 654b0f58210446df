import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { createAddressMatcher } from '../address.ts';
import { errorCode } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { isAbandoned, peerAddress, whenDecided } from './connections.ts';
import { GrpcCode, sendError } from './errors.ts';
import { type Hop, identityHeaderNames, staysOnHop, upstreamHeaders } from './identity.ts';

/** What undici calls an upstream too slow to connect to or to answer. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * The hop a request makes through the gateway: who sent it (as known when its connection opened), whether we
 * believe their `X-Forwarded-*`; `undefined` when the peer's address cannot be known, and the request is not sent on.
 */
export function hopOf(
  request: IncomingMessage,
  trusted: (address: string | undefined) => boolean,
): Hop | undefined {
  const peer = peerAddress(request);
  if (peer === undefined) return undefined;
  const encrypted = (request.socket as { encrypted?: boolean }).encrypted === true;
  return { peer, trusted: trusted(peer), protocol: encrypted ? 'https' : 'http', host: request.headers.host };
}

/**
 * The path of a request target, or `undefined` when it is not one the gateway forwards: absolute-form, `*`, a
 * fragment (no client sends one; the exclusions read the path before `#`, an upstream might not).
 */
export function forwardablePath(url: string): string | undefined {
  if (!url.startsWith('/') || url.includes('#')) return undefined;
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  // Only a `%` escape can fail to decode: a path without one needs no trial.
  if (path.includes('%')) {
    try {
      decodeURIComponent(path);
    } catch {
      return undefined;
    }
  }
  return path;
}

/**
 * Writes the upstream's response headers into `into` (replacing those of the same name) but those that describe its
 * hop rather than ours to the client: the hop-by-hop ones (a `Proxy-Authenticate` among them), and any its
 * `Connection` header names. Returns `into`.
 */
function endToEndInto(headers: IncomingHttpHeaders, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const local = staysOnHop(headers.connection);
  for (const name in headers) {
    if (!local(name)) into[name] = headers[name];
  }
  return into;
}

const CLIENT_GONE = 'the client closed the connection';

/**
 * The reverse proxy: every route the application does not serve itself is streamed to `gateway.upstream`, after
 * the authentication hook has let it through, bodies both ways unbuffered (undici's dispatcher, its response
 * written straight to the client's, pausing while the client cannot take more). `/auth/v1/*` and `/metrics` stay
 * portcullis's (404 when nothing there answers). The upstream gets the identity headers, never forged ones or
 * portcullis's credentials, and `X-Forwarded-*` for this hop. An upstream slower than `gateway.timeout` to connect
 * or to answer is a 504, an unreachable one a 502, both in Flipt's error shape; a request is never sent twice.
 */
export function reverseProxy(runtime: Runtime, options: { readonly reserveMetrics?: boolean } = {}) {
  const { gateway } = runtime.config;
  const upstream = new URL(gateway.upstream as string);
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const names = identityHeaderNames(gateway);
  const trusted = createAddressMatcher(gateway.trusted_proxies);
  const timeoutSeconds = `${gateway.timeout / 1000}s`;
  const record = runtime.metrics.proxy('http');

  function failed(reply: FastifyReply, error: Error) {
    const code = errorCode(error) ?? errorCode((error as { cause?: unknown }).cause);
    runtime.log.warn(
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
    const open = { config: { authenticate: false } };
    const notFound = (_request: FastifyRequest, reply: FastifyReply) =>
      sendError(reply, GrpcCode.NOT_FOUND, 'Not Found');
    scope.all('/auth/v1', open, notFound);
    scope.all('/auth/v1/*', open, notFound);
    if (options.reserveMetrics !== false) scope.all('/metrics', open, notFound);
    // Bodies are handed to the upstream as they arrive, whatever their type: nothing is parsed or buffered here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    if (upstream.protocol === 'h2c:') {
      // An h2c upstream takes HTTP/2 only: the gRPC calls go to it (core/grpc/upstream-proxy.ts), nothing else can.
      const grpcOnly = (_request: FastifyRequest, reply: FastifyReply) =>
        sendError(
          reply,
          GrpcCode.UNIMPLEMENTED,
          'gateway.upstream is an h2c:// (gRPC) upstream: only gRPC calls (HTTP/2, content-type application/grpc) are forwarded to it',
        );
      scope.all('/', grpcOnly);
      scope.all('/*', grpcOnly);
      return;
    }
    const { Pool } = await import('undici');
    const pool = new Pool(upstream.origin, {
      // As many connections as requests under way (each client connection has at most one): a fixed cap would let
      // a few long streams (server-sent events) hold every request after them.
      connections: null,
      connectTimeout: gateway.timeout,
      headersTimeout: gateway.timeout,
      // A response may rightly pause for long (a server-sent event stream); only its start is timed.
      bodyTimeout: 0,
    });
    scope.addHook('onClose', () => pool.destroy());

    /**
     * One request's way to the upstream and its answer's way back: undici's handler, its state in fields, so that a
     * request makes one object here rather than a closure per callback.
     */
    class Relay implements Dispatcher.DispatchHandler {
      controller: Dispatcher.DispatchController | undefined = undefined;
      /** The client went away (or the request was answered otherwise): the upstream request is stopped. */
      gone = false;
      /** The upstream's answer was written whole. */
      relayed = false;
      /** Counted in `portcullis_proxy_requests_total`: once, when the upstream's final status (or failure) is known. */
      counted = false;
      readonly sentAt = performance.now();

      readonly request: FastifyRequest;
      readonly reply: FastifyReply;
      /** The request's connection, read before undici unlinks a body it has sent from its socket. */
      readonly socket: IncomingMessage['socket'];

      constructor(request: FastifyRequest, reply: FastifyReply, socket: IncomingMessage['socket']) {
        this.request = request;
        this.reply = reply;
        this.socket = socket;
      }

      /** The client's response closed: unless the answer was relayed whole, the upstream request is stopped. */
      clientClosed(): void {
        if (this.relayed) return;
        this.gone = true;
        this.controller?.abort(new Error(CLIENT_GONE));
      }

      onRequestStart(started: Dispatcher.DispatchController): void {
        this.controller = started;
        if (this.gone) started.abort(new Error(CLIENT_GONE));
      }

      onResponseStart(
        started: Dispatcher.DispatchController,
        statusCode: number,
        answered: IncomingHttpHeaders,
      ): void {
        // 102 Processing, 103 Early Hints: between the upstream and us; the client gets the final answer.
        if (statusCode < 200) return;
        this.counted = true;
        record(statusCode, (performance.now() - this.sentAt) / 1000);
        if (isAbandoned(this.request.raw, this.socket)) {
          this.gone = true;
          started.abort(new Error(CLIENT_GONE));
          return;
        }
        const { reply } = this;
        try {
          // Headers the application set on this reply (an embedding app's CORS, say) go too; the upstream's win.
          // `getHeaders()` answers a new object: the upstream's are written into it.
          reply.raw.writeHead(statusCode, endToEndInto(answered, reply.getHeaders() as OutgoingHttpHeaders));
        } catch (error) {
          // A header Node will not send (the upstream's parser let it through): a 502 rather than a hang.
          started.abort(error as Error);
          return;
        }
        // From here on the answer is the upstream's, written as it arrives.
        reply.hijack();
      }

      onResponseData(flowing: Dispatcher.DispatchController, chunk: Buffer): void {
        const response = this.reply.raw;
        if (!response.write(chunk)) {
          flowing.pause();
          response.once('drain', () => flowing.resume());
        }
      }

      onResponseEnd(): void {
        this.relayed = true;
        this.reply.raw.end();
      }

      onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
        const { request, reply } = this;
        const where = { reqId: request.id, upstream: upstream.origin };
        // A client that left says nothing of the upstream.
        if (!this.counted && !this.gone) record('error');
        this.counted = true;
        if (this.gone) {
          runtime.log.debug(where, 'client left before the upstream had answered');
        } else if (reply.raw.headersSent) {
          runtime.log.warn({ ...where, reason: error.message }, 'upstream answer cut short');
          reply.raw.destroy(error);
        } else {
          failed(reply, error);
        }
      }
    }

    const forward = (request: FastifyRequest, reply: FastifyReply, target: string) => {
      const response = reply.raw;
      // Read now: once its body is sent, undici unlinks the request from its socket.
      const socket = request.raw.socket;
      // A client that left while it was being authenticated, or whose message turned out broken after its headers
      // (Node emits the request first): nothing is sent upstream.
      if (response.destroyed || isAbandoned(request.raw, socket)) return;
      const hop = hopOf(request.raw, trusted);
      if (hop === undefined) {
        return sendError(reply, GrpcCode.FAILED_PRECONDITION, 'the client’s address is unknown');
      }
      const headers = upstreamHeaders(request.headers, {
        names,
        authentication: request.authentication,
        identify: runtime.pipeline.identify,
        passAuthorization: gateway.pass_authorization,
        hop,
      });
      headers.host = upstream.host;
      const relay = new Relay(request, reply, socket);
      // A client that goes away stops its upstream request, whether still waiting for a connection, under way or
      // being answered: otherwise the upstream's answer would wait forever for a reader, holding a connection. So
      // does a request answered otherwise (its message broke off): the upstream must not get the rest of it.
      // `on`: a response closes once (`once` would wrap the listener and unhook it on every request).
      response.on('close', () => relay.clientClosed());
      pool.dispatch(
        {
          method: request.method as Dispatcher.HttpMethod,
          path: target,
          headers,
          body: request.body instanceof Readable ? request.body : null,
        },
        relay,
      );
    };

    const proxy = (request: FastifyRequest, reply: FastifyReply) => {
      const path = forwardablePath(request.url);
      if (path === undefined) {
        return sendError(reply, GrpcCode.INVALID_ARGUMENT, 'the request target cannot be forwarded');
      }
      // The query string goes as the client sent it; a pipelined request once those before it are answered, and
      // only if none of their answers closed the connection.
      const target = `${basePath}${path}${request.url.slice(path.length)}`;
      whenDecided(request.raw, () => forward(request, reply, target));
    };
    scope.all('/', proxy);
    scope.all('/*', proxy);
  };
}
