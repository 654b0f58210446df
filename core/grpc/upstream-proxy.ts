import type { IncomingHttpHeaders } from 'node:http';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders as Http2Headers,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { FastifyInstance } from 'fastify';
import { createAddressMatcher } from '../address.ts';
import { errorMessage } from '../errors.ts';
import { HOP_BY_HOP, identityHeaderNames, upstreamHeaders } from '../http/identity.ts';
import { createJudge } from '../http/judge.ts';
import { forwardablePath } from '../http/proxy.ts';
import type { Runtime } from '../runtime.ts';
import { HTTP2_STREAM, respondWithStatus } from './http2-status.ts';

const { NGHTTP2_CANCEL } = constants;

/** Flipt's refusal of a call without a valid credential (as its gRPC interceptor answers). */
const UNAUTHENTICATED = 'request was not authenticated';

/**
 * The HTTP/2 origin a gRPC upstream is reached at: `h2c://host:port` is cleartext HTTP/2 with prior knowledge,
 * `https://` is HTTP/2 negotiated by ALPN; `undefined` for an `http://` upstream (HTTP/1.1, which cannot carry gRPC).
 */
export function grpcOrigin(upstream: URL): string | undefined {
  if (upstream.protocol === 'h2c:') return `http://${upstream.host}`;
  if (upstream.protocol === 'https:') return upstream.origin;
  return undefined;
}

/** Response headers HTTP/2 forbids or that describe the upstream's hop (RFC 9113 §8.2.2). */
const notForwarded = (name: string) => name.startsWith(':') || HOP_BY_HOP.has(name) || name === 'host';

function forwardedResponseHeaders(headers: Http2Headers): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = { ':status': headers[':status'] ?? 200 };
  for (const name in headers) {
    if (!notForwarded(name)) kept[name] = headers[name];
  }
  return kept;
}

/** A call's headers as an HTTP/1 request's (what the pipeline and the identity rules read): `host` from `:authority`. */
function plainHeaders(headers: Http2Headers): IncomingHttpHeaders {
  const plain: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (!name.startsWith(':')) plain[name] = headers[name] as string | string[];
  }
  const authority = headers[':authority'];
  if (plain.host === undefined && typeof authority === 'string') plain.host = authority;
  return plain;
}

/**
 * The gateway for gRPC upstreams: each gRPC call that reaches the HTTP port over HTTP/2 is checked from its
 * metadata as any request is (exclusions, `authentication.required`, the pipeline, through {@link createJudge}) and
 * proxied to `gateway.upstream` over HTTP/2, messages both ways as they come (unary and every kind of streaming),
 * the upstream's trailers (`grpc-status`, `grpc-message`, its own metadata) passed on. A refused call is a
 * trailers-only response with `grpc-status` 16 and Flipt's message, and never reaches the upstream; the upstream gets
 * the identity headers as metadata (never forged ones, never `authorization` unless `gateway.pass_authorization`)
 * and `x-forwarded-*` for this hop. An upstream that cannot be reached within `gateway.timeout` is status 14
 * (UNAVAILABLE); a call the client cancels is cancelled upstream (RST_STREAM CANCEL), and the other way round.
 */
export function proxyGrpc(
  app: FastifyInstance,
  runtime: Runtime,
  isExcluded: (url: string) => boolean,
): void {
  const { gateway } = runtime.config;
  const upstream = new URL(gateway.upstream as string);
  const origin = grpcOrigin(upstream);
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const names = identityHeaderNames(gateway);
  const trusted = createAddressMatcher(gateway.trusted_proxies);
  const judge = createJudge(runtime, isExcluded);
  const timeoutSeconds = `${gateway.timeout / 1000}s`;
  let session: ClientHttp2Session | undefined;
  let closed = false;

  /** One HTTP/2 connection to the upstream, shared by every call, opened again when it goes. */
  function upstreamSession(): ClientHttp2Session {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const opened = connect(origin as string, { ALPNProtocols: ['h2'] });
    const forget = () => {
      if (session === opened) session = undefined;
    };
    opened.on('error', (error) => {
      runtime.log.warn(
        { upstream: upstream.origin, reason: errorMessage(error) },
        'gRPC upstream connection failed',
      );
      forget();
    });
    opened.on('close', forget);
    opened.on('goaway', forget);
    // An idle connection must not keep the process alive, nor a closed application's upstream open.
    opened.unref();
    session = opened;
    return opened;
  }

  function forward(
    stream: ServerHttp2Stream,
    headers: Http2Headers,
    path: string,
    identity: Record<string, string>,
  ) {
    const socket = stream.session?.socket;
    const peer = socket?.remoteAddress;
    if (peer === undefined) {
      respondWithStatus(stream, 9, 'the client’s address is unknown');
      return;
    }
    const encrypted = (socket as { encrypted?: boolean } | undefined)?.encrypted === true;
    const plain = plainHeaders(headers);
    const outgoing: OutgoingHttpHeaders = {
      ...upstreamHeaders(plain, {
        names,
        authentication: undefined,
        passAuthorization: gateway.pass_authorization,
        hop: { peer, trusted: trusted(peer), protocol: encrypted ? 'https' : 'http', host: plain.host },
      }),
      ...identity,
      ':method': 'POST',
      ':path': `${basePath}${path}${(headers[':path'] as string).slice(path.length)}`,
      ':authority': upstream.host,
      // gRPC requires it; it is hop-by-hop in HTTP/1, so the identity rules drop it (RFC 9113 §8.2.2 allows it).
      te: 'trailers',
    };
    delete outgoing.host;

    let call: ClientHttp2Stream;
    let connectTimer: NodeJS.Timeout | undefined;
    try {
      const upstreamConnection = upstreamSession();
      if (upstreamConnection.connecting) {
        connectTimer = setTimeout(() => {
          upstreamConnection.destroy(new Error(`no connection within ${timeoutSeconds}`));
        }, gateway.timeout);
        upstreamConnection.once('connect', () => clearTimeout(connectTimer));
      }
      call = upstreamConnection.request(outgoing);
    } catch (error) {
      clearTimeout(connectTimer);
      runtime.log.warn({ upstream: upstream.origin, reason: errorMessage(error) }, 'upstream failed');
      respondWithStatus(stream, 14, 'upstream unavailable');
      return;
    }
    let answered = false;
    let trailers: OutgoingHttpHeaders | undefined;
    call.on('response', (responseHeaders, flags) => {
      clearTimeout(connectTimer);
      if (stream.destroyed) return;
      answered = true;
      // A trailers-only answer (a refusal, an error before any message): its status is in these headers.
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
        stream.respond(forwardedResponseHeaders(responseHeaders), { endStream: true });
        return;
      }
      stream.respond(forwardedResponseHeaders(responseHeaders), { waitForTrailers: true });
      call.pipe(stream);
    });
    call.on('trailers', (received) => {
      trailers = forwardedResponseHeaders(received);
      delete trailers[':status'];
    });
    stream.on('wantTrailers', () => {
      // A response that ended without a status is not a gRPC answer; the client is told so rather than left waiting.
      stream.sendTrailers(
        trailers ?? { 'grpc-status': '13', 'grpc-message': 'upstream%20sent%20no%20status' },
      );
    });
    call.on('error', (error) => {
      clearTimeout(connectTimer);
      if (stream.destroyed) return;
      runtime.log.warn({ upstream: upstream.origin, reason: errorMessage(error) }, 'upstream failed');
      if (!answered && !stream.headersSent) respondWithStatus(stream, 14, 'upstream unavailable');
      else stream.close(NGHTTP2_CANCEL);
    });
    call.on('close', () => {
      clearTimeout(connectTimer);
      // The upstream reset the stream after answering (RST_STREAM): the client's stream is reset too.
      if (!stream.destroyed && call.rstCode !== undefined && call.rstCode !== 0 && stream.headersSent) {
        stream.close(call.rstCode);
      } else if (!answered && !stream.destroyed && !stream.headersSent) {
        respondWithStatus(stream, 14, 'upstream unavailable');
      }
    });
    // The client cancelled (or its connection went): so is the upstream call.
    stream.on('close', () => {
      if (!call.closed) call.close(NGHTTP2_CANCEL);
    });
    stream.pipe(call);
  }

  async function handle(stream: ServerHttp2Stream, headers: Http2Headers): Promise<void> {
    if (closed) return respondWithStatus(stream, 14, 'the server is shutting down');
    if (origin === undefined) {
      return respondWithStatus(
        stream,
        12,
        `gateway.upstream ${upstream.protocol}// speaks HTTP/1.1, which cannot carry gRPC: use h2c:// or https://`,
      );
    }
    const target = String(headers[':path'] ?? '');
    const path = forwardablePath(target);
    if (path === undefined) return respondWithStatus(stream, 12, 'the method cannot be forwarded');
    const judgement = await judge({
      method: String(headers[':method'] ?? 'POST'),
      uri: target,
      headers: plainHeaders(headers),
      trustworthy: true,
    });
    if (stream.destroyed) return;
    switch (judgement.kind) {
      case 'allow':
        return forward(stream, headers, path, judgement.identity);
      case 'unauthenticated':
        return respondWithStatus(stream, 16, UNAUTHENTICATED);
      case 'cross-origin':
        return respondWithStatus(stream, 7, judgement.message);
      case 'error':
        return respondWithStatus(stream, judgement.code, judgement.message);
    }
  }

  // Only gRPC calls are emitted (the server answers other HTTP/2 requests itself).
  app.server.on(HTTP2_STREAM, (stream: ServerHttp2Stream, headers: Http2Headers) => {
    handle(stream, headers).catch((error: unknown) => {
      runtime.log.error({ err: error }, 'gRPC call failed');
      respondWithStatus(stream, 13, 'internal error');
    });
  });
  app.addHook('onClose', () => {
    closed = true;
    session?.close();
  });
}
