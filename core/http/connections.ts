import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/** What is known of one client connection. */
interface Connection {
  /** The peer's address, read when the connection opened (a destroyed socket no longer has one). */
  readonly peer: string | undefined;
  /** The answers to its requests, oldest first; those already finished are dropped as new requests come. */
  readonly answers: ServerResponse[];
  /** Whether an answer closed the connection: nothing pipelined after it is acted on. */
  closing: boolean;
  /**
   * While requests are pipelined: resolves once every answer started so far is finished, each waiting on the one
   * before. `undefined` while no request waits behind an unfinished answer (nearly always): nothing is chained then.
   */
  settled: Promise<void> | undefined;
}

const connections = new WeakMap<object, Connection>();
const tracked = new WeakSet<Server>();
/**
 * Requests nothing is done for: those whose own message was broken off (a parse error, a timeout; their answer is
 * the error), and those pipelined after an answer that closes the connection (they get none).
 */
const failed = new WeakSet<IncomingMessage>();

/**
 * Requests pipelined behind answers not yet finished: each resolves once those are, and is marked failed then if
 * one of them closed the connection.
 */
const held = new WeakMap<IncomingMessage, Promise<void>>();

const done = (answer: ServerResponse) => answer.writableFinished || answer.destroyed;

/**
 * Whether `answer` closes its connection. Known only once its headers are written: Node decides then to close an
 * HTTP/1.0 answer it cannot frame (no `Content-Length`: a chunked upstream answer, a HEAD), or one whose handler
 * set `Connection: close`, setting its `_last` rather than `shouldKeepAlive`.
 */
const closes = (answer: ServerResponse) =>
  !answer.shouldKeepAlive || (answer as ServerResponse & { _last?: boolean })._last === true;

/**
 * Follows the connections of `server`: each one's peer address from the moment it opens, and its answers in order,
 * so that an answer written on the socket itself (a parse error, a refused `CONNECT` or upgrade) waits for those
 * of the requests before it (HTTP/1.1 pipelining, RFC 9112 §9.3.2). Idempotent.
 */
export function trackConnections(server: Server): void {
  if (tracked.has(server)) return;
  tracked.add(server);
  const opened = (socket: Socket) =>
    connections.set(socket, {
      peer: socket.remoteAddress,
      answers: [],
      closing: false,
      settled: undefined,
    });
  server.on('connection', opened);
  // Over TLS, requests come on the TLS socket, not on the TCP one `connection` gives.
  server.on('secureConnection', opened);
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const connection = connections.get(request.socket);
    if (connection === undefined) return;
    const { answers } = connection;
    // The answers finished since the last request: once one closed the connection, nothing after it is acted on.
    while (answers[0] !== undefined && done(answers[0])) {
      if (closes(answers[0])) connection.closing = true;
      answers.shift();
    }
    // A request that asked to switch protocols and was not switched (HTTP/1.0, RFC 9110 §7.8; no upgrade handler):
    // Node's parser takes whatever follows it on the connection as the new protocol's bytes and drops it, so the
    // connection must close after this answer rather than wait for requests it will never see.
    if (request.headers.upgrade !== undefined) response.shouldKeepAlive = false;
    // RFC 9112 §9.6: once an answer closes the connection (the client's `Connection: close`, HTTP/1.0, an error),
    // no request pipelined after it is processed; Node parses and emits them all the same, but never answers them.
    // Whether an answer closes is known for certain only once it is written, so a request pipelined behind answers
    // not yet finished is held (see {@link whenDecided}) until they are, and acted on only if none closed. Nothing
    // is waited for (no promise made) for a request with no answer before it unfinished: nearly every one.
    if (answers.length === 0) connection.settled = undefined;
    if (connection.closing) failed.add(request);
    else if (answers.length > 0) {
      // One chain through the unfinished answers, extended by each answer after them (linear in the depth of a
      // pipeline, one listener per answer), made only once a request is pipelined behind one.
      if (connection.settled === undefined) {
        connection.settled = Promise.resolve();
        for (const answer of answers) settleAfter(connection, answer);
      }
      held.set(
        request,
        connection.settled.then(() => {
          if (connection.closing) failed.add(request);
        }),
      );
    }
    answers.push(response);
    if (connection.settled !== undefined) settleAfter(connection, response);
  });
}

/** Extends `connection`'s chain with `answer`: settled once it finishes too, closing the connection if it does. */
function settleAfter(connection: Connection, answer: ServerResponse): void {
  connection.settled = (connection.settled ?? Promise.resolve())
    .then(() => finished(answer))
    .then(() => {
      if (closes(answer)) connection.closing = true;
    });
}

/** Resolves once `answer` has been written or abandoned (at once if it already has). */
function finished(answer: ServerResponse): Promise<void> {
  if (done(answer)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    answer.once('finish', resolve);
    answer.once('close', resolve);
  });
}

/**
 * The address of the peer that sent `request`, as read when its connection opened; `undefined` when no address
 * can be known (the connection is gone and was never followed by {@link trackConnections}).
 */
export function peerAddress(request: IncomingMessage): string | undefined {
  const socket = request.socket;
  return connections.get(socket)?.peer ?? (socket.destroyed === true ? undefined : socket.remoteAddress);
}

/**
 * The answer to the last request Node emitted on `socket`, finished or not (its request may still be arriving:
 * a handler can answer before the body is read); `undefined` when none is known.
 */
export function latestAnswer(socket: object): ServerResponse | undefined {
  return connections.get(socket)?.answers.at(-1);
}

/** The answers on `socket` not yet finished, oldest first. */
export function unfinishedAnswers(socket: object): ServerResponse[] {
  return (connections.get(socket)?.answers ?? []).filter((answer) => !done(answer));
}

/** Resolves once each of `answers` has been written or abandoned. */
export async function allFinished(answers: readonly ServerResponse[]): Promise<void> {
  await Promise.all(answers.map(finished));
}

/**
 * Resolves once every answer started on `socket` so far has been written or abandoned: what is written on the
 * socket itself then comes after them, in the order the requests came.
 */
export function earlierAnswers(socket: object): Promise<void> {
  return allFinished(unfinishedAnswers(socket));
}

/**
 * Calls `act` once it is known whether `request` is to be acted on: at once, unless it was pipelined behind answers
 * not yet finished, one of which may yet close the connection ({@link trackConnections}), then when they are; then
 * check {@link isAbandoned}.
 */
export function whenDecided(request: IncomingMessage, act: () => void): void {
  const pending = held.get(request);
  if (pending === undefined) act();
  else void pending.then(act);
}

/** Marks `request` as one whose message was broken off: it is answered with the error, never acted on. */
export function markFailed(request: IncomingMessage): void {
  failed.add(request);
}

/**
 * Whether nothing should be done for `request` any more: its message was broken off (a parse error after its
 * headers), or its client can no longer be answered (the connection is closed, or closing for writes). Node emits
 * `request` once the headers are read, before the rest of the message is parsed, so a handler that acts on a
 * request checks this first. `socket` is the request's connection, for a caller that read it before handing the
 * request's body on (undici unlinks a body it has sent from its socket).
 */
export function isAbandoned(
  request: IncomingMessage,
  socket: Partial<Socket> | null = request.socket,
): boolean {
  if (failed.has(request)) return true;
  // Compared with true and false: an injected request (light-my-request) has a socket with neither.
  return socket !== null && (socket.destroyed === true || socket.writable === false);
}

/**
 * A `preHandler` hook: a request abandoned while it was read or authenticated ({@link isAbandoned}), or pipelined
 * after an answer that closes the connection (waited for: {@link whenDecided}), never reaches its handler, so that a client that is gone, or whose connection failed, cannot create or delete anything.
 */
export function skipAbandoned(
  request: FastifyRequest,
  reply: FastifyReply,
  next: HookHandlerDoneFunction,
): void {
  whenDecided(request.raw, () => {
    // There is no one to answer (or the error has been answered already): the handler must not run.
    if (isAbandoned(request.raw)) reply.hijack();
    next();
  });
}
