import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  allFinished,
  earlierAnswers,
  latestAnswer,
  markFailed,
  trackConnections,
  unfinishedAnswers,
} from './connections.ts';
import { GrpcCode, type GrpcCodeValue } from './errors.ts';

/** An error answered outside any route: its status, and the code and message of Flipt's body. */
export interface ClientErrorAnswer {
  readonly status: number;
  readonly code: GrpcCodeValue;
  readonly message: string;
}

/**
 * Why a request's `Host` cannot be believed, `undefined` when it can (RFC 9112 §3.2, as Go's server answers): an
 * HTTP/1.1 request without one, any request with more than one (Node would keep the first), or an absolute-form
 * target whose authority is another host than `Host` names (§3.2.2: two hosts, one request).
 */
export function hostProblem(request: IncomingMessage): string | undefined {
  const raw = request.rawHeaders ?? [];
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'host') count++;
  if (count > 1) return 'more than one Host header';
  const host = request.headers.host;
  if (host === undefined) {
    const { httpVersionMajor, httpVersionMinor } = request;
    return httpVersionMajor === 1 && httpVersionMinor === 1 ? 'missing required Host header' : undefined;
  }
  const url = request.url ?? '/';
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return undefined;
  try {
    const target = new URL(url);
    // Both read as URLs, so that case and a default port compare equal.
    if (target.host !== new URL(`${target.protocol}//${host}`).host) {
      return 'the request target names another host than Host';
    }
  } catch {
    // A target that is no URL: refused where it is routed (it cannot be forwarded).
  }
  return undefined;
}

/** Flipt's error body, as sent. */
const errorBody = (answer: ClientErrorAnswer) =>
  JSON.stringify({ code: answer.code, message: answer.message, details: [] });

/**
 * Writes a last answer, in Flipt's error shape, on a connection no `ServerResponse` answers on (its parser failed,
 * or it was handed over for `CONNECT` or an upgrade), then closes it once the answer is out (`end` alone would wait
 * for the client to close its side).
 */
export function lastAnswer(
  socket: Duplex,
  answer: ClientErrorAnswer,
  extra: Record<string, string> = {},
): void {
  // Only the first last answer is written (an upstream's error may follow its timeout).
  if (socket.writableEnded) return;
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  const body = errorBody(answer);
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    // RFC 9110 §6.6.1, as Node adds to the answers it writes.
    date: new Date().toUTCString(),
    ...extra,
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  const status = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`;
  socket.end(`${status}\r\n${lines.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

/** Answers on a request's own response, which Node writes in its turn among pipelined answers. */
function answerOn(response: ServerResponse, answer: ClientErrorAnswer, close: boolean): void {
  const body = errorBody(answer);
  if (close) response.shouldKeepAlive = false;
  response.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(close && { connection: 'close' }),
  });
  response.end(body);
}

/**
 * What a client error Node reports (`clientError`) is answered with, `undefined` for a connection error (there is
 * no one to answer). llhttp's reason names the rule the request broke and never quotes the request.
 */
export function clientErrorAnswer(
  error: Error & { code?: string; reason?: string },
): ClientErrorAnswer | undefined {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: GrpcCode.RESOURCE_EXHAUSTED, message: 'request header fields too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: GrpcCode.RESOURCE_EXHAUSTED, message: 'chunk extensions too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: GrpcCode.DEADLINE_EXCEEDED,
        message: 'the request was not received in time',
      };
  }
  if (!error.code?.startsWith('HPE_')) return undefined;
  return {
    status: 400,
    code: GrpcCode.INVALID_ARGUMENT,
    message: `malformed HTTP request: ${error.reason ?? error.code}`,
  };
}

/** Connections whose parser has failed: it fails again on every later chunk, and only the first is answered. */
const failedConnections = new WeakSet<Duplex>();

/**
 * The server's `clientError` handler (Fastify's `clientErrorHandler`). Node reports a message it cannot parse
 * after it may already have emitted `request` for it (its headers were fine, its `Transfer-Encoding` or body is
 * not), and while answers to earlier pipelined requests are still being written. So:
 * - the broken request, if Node emitted it, is marked failed (nothing acts on it: see `isAbandoned`) and answered
 *   with the error on its own response, in its turn; its answer, if already begun, is cut off instead;
 * - otherwise the error is written once the earlier answers are out;
 * - then the connection closes (nothing after a broken message can be framed), in Flipt's error shape and with
 *   the status Node would give (400, 408, 413, 431), unlike Node's and Fastify's own answers.
 */
export function answerClientError(error: Error & { code?: string; reason?: string }, socket: Duplex): void {
  const answer = clientErrorAnswer(error);
  if (answer === undefined || socket.destroyed) return void socket.destroy();
  if (failedConnections.has(socket)) return;
  failedConnections.add(socket);
  // The broken message is the last request Node emitted when that one has not arrived whole, whether or not its
  // answer is finished (a GET's body is not read before it is answered); otherwise one Node never emitted.
  const last = latestAnswer(socket);
  if (last === undefined || last.req.complete) {
    void earlierAnswers(socket).then(() => lastAnswer(socket, answer));
    return;
  }
  markFailed(last.req);
  if (!last.headersSent && !last.destroyed) {
    answerOn(last, answer, true);
    return;
  }
  // Its answer has begun before the message was known to be broken: one request, one answer, so the error gets
  // none, and nothing more can be framed after it. A finished answer is out: the connection closes.
  if (last.writableFinished || last.destroyed) {
    socket.end(() => socket.destroy());
    return;
  }
  if (last.writableEnded) {
    last.once('finish', () => socket.end(() => socket.destroy()));
    return;
  }
  // An answer under way (a stream) for a request that never arrived whole: cut off, after those before it.
  const unfinished = unfinishedAnswers(socket);
  void allFinished(unfinished.slice(0, -1)).then(() => socket.destroy());
}

/**
 * `CONNECT` asks for a tunnel, and portcullis is no forward proxy: 405 in Flipt's shape (Node would close the
 * connection without a word, cutting off the answers to the requests before it), once those answers are out.
 */
export function refuseConnect(_request: IncomingMessage, socket: Duplex): void {
  // Node hands the socket over without its error listener: a reset must not become an uncaught error.
  socket.on('error', () => socket.destroy());
  void earlierAnswers(socket).then(() =>
    lastAnswer(
      socket,
      { status: 405, code: GrpcCode.UNIMPLEMENTED, message: 'Method Not Allowed' },
      // RFC 9110 §15.5.6: a 405 names the methods that are served.
      { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' },
    ),
  );
}

/**
 * An `Expect` other than `100-continue` (RFC 9110 §10.1.1): 417 in Flipt's shape, where Node sends a bare status.
 */
export function refuseExpectation(_request: IncomingMessage, response: ServerResponse): void {
  answerOn(
    response,
    {
      status: 417,
      code: GrpcCode.FAILED_PRECONDITION,
      message: 'only the expectation 100-continue is understood',
    },
    false,
  );
}

/**
 * Answers, in Flipt's shape, what the HTTP server would answer before any route (with Fastify's
 * `clientErrorHandler` set to {@link answerClientError}): `CONNECT` and unknown expectations. Follows the
 * connections ({@link trackConnections}) so that these answers keep their place among pipelined ones.
 */
export function answerOutsideRoutes(server: Server): void {
  trackConnections(server);
  server.on('connect', refuseConnect);
  server.on('checkExpectation', refuseExpectation);
}
