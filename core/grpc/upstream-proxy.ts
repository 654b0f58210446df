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
import { grpcCodeName } from '../grpc-status.ts';
import { GrpcCode, type GrpcCodeValue, UNAUTHENTICATED_MESSAGE } from '../http/errors.ts';
import { HOP_BY_HOP, identityHeaderNames, upstreamHeaders } from '../http/identity.ts';
import { createJudge } from '../http/judge.ts';
import { forwardablePath } from '../http/proxy.ts';
import { clientAddress } from '../observe/client.ts';
import type { Runtime } from '../runtime.ts';
import { HTTP2_STREAM, respondWithStatus, statusTrailers } from './http2-status.ts';

const { NGHTTP2_CANCEL } = constants;

/**
 * How many calls share one connection to the upstream before another is opened: gRPC servers commonly allow 100
 * concurrent streams a connection (grpc-go's, and the HTTP/2 RFC's suggested minimum).
 */
const CALLS_PER_UPSTREAM_CONNECTION = 100;

/** How long a connection to the upstream beyond the first may stay without calls before it is closed. */
const IDLE_UPSTREAM_CONNECTION_MS = 30_000;

/** A connection to the upstream, with the calls it carries and, once idle, its closing timer. */
interface Pooled {
  readonly session: ClientHttp2Session;
  active: number;
  idle: NodeJS.Timeout | undefined;
}

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

/**
 * The `grpc-status` of an upstream's answer as a label value: the code's name (`OK`, `NOT_FOUND`, ...), `UNKNOWN`
 * for a value that is not a code (as gRPC clients read it), `error` when there is none.
 */
export function grpcStatusLabel(status: unknown): string {
  if (status === undefined) return 'error';
  const code = Number(status);
  if (code === 0) return 'OK';
  return Number.isInteger(code) && code >= 1 && code <= 16 ? grpcCodeName(code as GrpcCodeValue) : 'UNKNOWN';
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
  const upstreamName = `${upstream.protocol}//${upstream.host}`;
  const record = runtime.metrics.proxy('grpc');
  /** The HTTP/2 connections to the upstream, each with the calls it carries. */
  const pool: Pooled[] = [];
  let closed = false;

  const usable = (session: ClientHttp2Session) => !session.closed && !session.destroyed;

  /**
   * A connection to the upstream with room for one more call: calls share connections up to
   * {@link CALLS_PER_UPSTREAM_CONNECTION} (or fewer, as the upstream's SETTINGS say), more connections are opened
   * beyond, so that no one connection carries every client's calls (one failing would fail them all).
   */
  function upstreamConnection() {
    for (const pooled of pool) {
      const room = Math.min(
        CALLS_PER_UPSTREAM_CONNECTION,
        pooled.session.remoteSettings?.maxConcurrentStreams ?? CALLS_PER_UPSTREAM_CONNECTION,
      );
      if (usable(pooled.session) && pooled.active < room) return pooled;
    }
    const session = connect(origin as string, { ALPNProtocols: ['h2'] });
    const pooled: Pooled = { session, active: 0, idle: undefined };
    const forget = () => {
      const index = pool.indexOf(pooled);
      if (index !== -1) pool.splice(index, 1);
    };
    // Only connecting is timed (`gateway.timeout`): once a call is under way, it may last (streams).
    const connecting = setTimeout(
      () => session.destroy(new Error(`no connection within ${timeoutSeconds}`)),
      gateway.timeout,
    );
    connecting.unref();
    session.once('connect', () => clearTimeout(connecting));
    session.on('error', (error) => {
      runtime.log.warn(
        { upstream: upstreamName, reason: errorMessage(error) },
        'gRPC upstream connection failed',
      );
      forget();
    });
    session.once('close', () => {
      clearTimeout(connecting);
      clearTimeout(pooled.idle);
      forget();
    });
    session.once('goaway', forget);
    // An idle connection must not keep the process alive.
    session.unref();
    pool.push(pooled);
    return pooled;
  }

  /**
   * A call ended. A connection beyond the first that stays idle for {@link IDLE_UPSTREAM_CONNECTION_MS} is closed
   * (calls go to the first connection with room, so extra ones fall idle when the load does); closing it at once
   * would open and close a connection a call while the load hovers at a connection's worth.
   */
  function release(pooled: Pooled) {
    pooled.active -= 1;
    if (pooled.active > 0 || pool.indexOf(pooled) < 1) return;
    clearTimeout(pooled.idle);
    pooled.idle = setTimeout(() => {
      const index = pool.indexOf(pooled);
      if (pooled.active > 0 || index < 1) return;
      pool.splice(index, 1);
      pooled.session.close();
    }, IDLE_UPSTREAM_CONNECTION_MS);
    pooled.idle.unref();
  }

  /** Sends an allowed call on: `plain` its headers as judged, `target` its `:path`, `path` that without the query. */
  function forward(
    stream: ServerHttp2Stream,
    plain: IncomingHttpHeaders,
    target: string,
    path: string,
    identity: Record<string, string>,
  ) {
    const socket = stream.session?.socket;
    const peer = socket?.remoteAddress;
    if (peer === undefined) {
      respondWithStatus(stream, GrpcCode.FAILED_PRECONDITION, 'the client’s address is unknown');
      return;
    }
    const encrypted = (socket as { encrypted?: boolean } | undefined)?.encrypted === true;
    const outgoing: OutgoingHttpHeaders = {
      ...upstreamHeaders(plain, {
        names,
        authentication: undefined,
        passAuthorization: gateway.pass_authorization,
        hop: { peer, trusted: trusted(peer), protocol: encrypted ? 'https' : 'http', host: plain.host },
      }),
      ...identity,
      ':method': 'POST',
      ':path': `${basePath}${path}${target.slice(path.length)}`,
      ':authority': upstream.host,
      // gRPC requires it; it is hop-by-hop in HTTP/1, so the identity rules drop it (RFC 9113 §8.2.2 allows it).
      te: 'trailers',
    };
    delete outgoing.host;

    let call: ClientHttp2Stream;
    let pooled: ReturnType<typeof upstreamConnection>;
    try {
      pooled = upstreamConnection();
      call = pooled.session.request(outgoing);
    } catch (error) {
      runtime.log.warn({ upstream: upstreamName, reason: errorMessage(error) }, 'upstream failed');
      record('error');
      respondWithStatus(stream, GrpcCode.UNAVAILABLE, 'upstream unavailable');
      return;
    }
    const started = performance.now();
    /** Seconds to the upstream's response head; its `grpc-status` (in those headers, or in its trailers). */
    let headSeconds: number | undefined;
    let status: unknown;
    let cancelled = false;
    pooled.active += 1;
    clearTimeout(pooled.idle);
    let answered = false;
    let trailersOnly = false;
    let trailers: OutgoingHttpHeaders | undefined;
    call.on('response', (responseHeaders, flags) => {
      headSeconds = (performance.now() - started) / 1000;
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) status = responseHeaders['grpc-status'];
      if (stream.destroyed) return;
      answered = true;
      // A trailers-only answer (a refusal, an error before any message): its status is in these headers.
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
        trailersOnly = true;
        stream.respond(forwardedResponseHeaders(responseHeaders), { endStream: true });
        return;
      }
      stream.respond(forwardedResponseHeaders(responseHeaders), { waitForTrailers: true });
      // Ended here only once the upstream's status has come (below): a reset ends it otherwise.
      call.pipe(stream, { end: false });
    });
    call.on('end', () => {
      if (trailers !== undefined && !stream.destroyed) stream.end();
    });
    call.on('trailers', (received) => {
      status = received['grpc-status'];
      trailers = forwardedResponseHeaders(received);
      delete trailers[':status'];
    });
    stream.on('wantTrailers', () => {
      // A response that ended without a status is not a gRPC answer; the client is told so rather than left waiting.
      stream.sendTrailers(trailers ?? statusTrailers(GrpcCode.INTERNAL, 'upstream sent no status'));
    });
    call.on('error', (error) => {
      runtime.log.warn({ upstream: upstreamName, reason: errorMessage(error) }, 'upstream failed');
    });
    call.once('close', () => {
      release(pooled);
      // A call its client cancelled before the upstream's status says nothing of the upstream.
      if (!cancelled || status !== undefined) record(grpcStatusLabel(status), headSeconds);
      // Answered in full (its status sent or on its way): nothing to add.
      if (stream.destroyed || stream.closed || trailersOnly || trailers !== undefined) return;
      if (!answered || !stream.headersSent) {
        respondWithStatus(stream, GrpcCode.UNAVAILABLE, 'upstream unavailable');
      } else if (!usable(pooled.session)) {
        // The connection went mid-call: as a client connected directly would see it, UNAVAILABLE, in trailers.
        call.unpipe(stream);
        trailers = statusTrailers(GrpcCode.UNAVAILABLE, 'upstream connection lost');
        stream.end();
      } else if (call.rstCode !== undefined && call.rstCode !== constants.NGHTTP2_NO_ERROR) {
        // The upstream reset the call after answering: so is the client's, with the upstream's code.
        stream.close(call.rstCode);
      } else {
        // It ended without a status: the client is told so (wantTrailers) rather than left waiting.
        call.unpipe(stream);
        stream.end();
      }
    });
    // The client cancelled (or its connection went): so is the upstream call.
    stream.on('close', () => {
      if (call.closed) return;
      cancelled = true;
      call.close(NGHTTP2_CANCEL);
    });
    stream.pipe(call);
  }

  async function handle(stream: ServerHttp2Stream, headers: Http2Headers): Promise<void> {
    if (closed) return respondWithStatus(stream, GrpcCode.UNAVAILABLE, 'the server is shutting down');
    if (origin === undefined) {
      return respondWithStatus(
        stream,
        12,
        `gateway.upstream ${upstream.protocol}// speaks HTTP/1.1, which cannot carry gRPC: use h2c:// or https://`,
      );
    }
    // gRPC calls are POSTs ("gRPC over HTTP/2"); one judged as another method must not go upstream as a POST.
    if (headers[':method'] !== 'POST')
      return respondWithStatus(stream, GrpcCode.UNIMPLEMENTED, 'gRPC calls are POST requests');
    const target = String(headers[':path'] ?? '');
    const path = forwardablePath(target);
    if (path === undefined)
      return respondWithStatus(stream, GrpcCode.UNIMPLEMENTED, 'the method cannot be forwarded');
    const plain = plainHeaders(headers);
    const judgement = await judge({
      method: 'POST',
      uri: target,
      headers: plain,
      trustworthy: true,
      ip: () => clientAddress(stream.session?.socket?.remoteAddress, plain['x-forwarded-for'], trusted),
    });
    if (stream.destroyed) return;
    switch (judgement.kind) {
      case 'allow':
        return forward(stream, plain, target, path, judgement.identity);
      case 'unauthenticated':
        return respondWithStatus(stream, GrpcCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
      case 'cross-origin':
        return respondWithStatus(stream, GrpcCode.PERMISSION_DENIED, judgement.message);
      case 'error':
        return respondWithStatus(stream, judgement.code, judgement.message);
    }
  }

  // Only gRPC calls are emitted (the server answers other HTTP/2 requests itself).
  app.server.on(HTTP2_STREAM, (stream: ServerHttp2Stream, headers: Http2Headers) => {
    handle(stream, headers).catch((error: unknown) => {
      runtime.log.error({ err: error }, 'gRPC call failed');
      respondWithStatus(stream, GrpcCode.INTERNAL, 'internal error');
    });
  });
  app.addHook('onClose', () => {
    closed = true;
    for (const { session } of pool.splice(0)) session.close();
  });
}
