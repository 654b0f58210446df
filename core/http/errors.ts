import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorStatus, isErrorCode } from '../error-status.ts';
import { GrpcCode, type GrpcCodeValue, httpStatus } from '../grpc-status.ts';
import { isAbandoned } from './connections.ts';

export { GrpcCode, type GrpcCodeValue, httpStatus } from '../grpc-status.ts';

/**
 * Flipt's refusal of a request without a valid credential, over HTTP and gRPC alike (its authentication
 * middleware's `errUnauthenticated`).
 */
export const UNAUTHENTICATED_MESSAGE = 'request was not authenticated';

/** Sends an error in Flipt's shape. A 401 also carries `WWW-Authenticate: <message>`, as Flipt's gateway does. */
export function sendError(
  reply: FastifyReply,
  code: GrpcCodeValue,
  message: string,
  status = httpStatus(code),
): FastifyReply {
  // A request whose message was broken off has had its answer (the parse error) written on its raw response; a
  // hook still deciding about it (a 401, say) must not answer it twice.
  if (reply.raw.writableEnded && isAbandoned(reply.request.raw)) return reply;
  if (status === 401) reply.header('www-authenticate', message);
  return reply.code(status).type('application/json').send({ code, message, details: [] });
}

/**
 * The gRPC code of a client error Fastify raises, by the HTTP status it keeps; any other 4xx is an invalid argument.
 * A size limit is `RESOURCE_EXHAUSTED`, the code gRPC gives a message over its size limit.
 */
const CODE_FOR_STATUS: Readonly<Record<number, GrpcCodeValue>> = {
  404: GrpcCode.NOT_FOUND,
  405: GrpcCode.UNIMPLEMENTED,
  408: GrpcCode.DEADLINE_EXCEEDED,
  413: GrpcCode.RESOURCE_EXHAUSTED,
  414: GrpcCode.RESOURCE_EXHAUSTED,
  431: GrpcCode.RESOURCE_EXHAUSTED,
};

/** How much of what a client sent a message may quote. */
const QUOTED_AT_MOST = 64;

/**
 * A Fastify message that begins by quoting what the client sent (`'<url>' is not a valid url component`) with the
 * quote cut to {@link QUOTED_AT_MOST} characters, so that an 80 KB target does not come back as an 80 KB error.
 */
function quotingLittle(message: string): string {
  const quoted = /^'([\s\S]*)'( [^']*)$/.exec(message);
  if (quoted === null || (quoted[1] ?? '').length <= QUOTED_AT_MOST) return message;
  return `'${(quoted[1] ?? '').slice(0, QUOTED_AT_MOST)}…'${quoted[2]}`;
}

/** An error as Flipt answers it: the body's code and message, and the HTTP status. */
export interface ErrorResponse {
  readonly code: GrpcCodeValue;
  readonly message: string;
  readonly status: number;
  /** Whether it hides an unexpected error (to be logged; its message is not shown). */
  readonly internal: boolean;
}

/**
 * The Flipt error body for something thrown while handling a request: our coded errors get their status from
 * `ERROR_STATUS` (core/error-status.ts) and keep their message when it is shown there; Fastify's own client errors
 * (a malformed body, a wrong content type, a body too large) keep their message and their status (400, 413, 415,
 * ...); anything else is an internal error whose message is not shown (it may hold details of the server).
 */
export function errorResponse(error: unknown): ErrorResponse {
  const { code, statusCode, message } = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    statusCode?: unknown;
    message?: unknown;
  };
  // Our codes by the one table; a code whose message is not shown falls through to the internal error below.
  const mapped = isErrorCode(code) ? errorStatus(code) : undefined;
  if (mapped?.shown === true) {
    return { code: mapped.grpc, message: String(message), status: mapped.http, internal: false };
  }
  // Only Fastify's own (FST_*): a plugin's error carrying a statusCode is no client error we vouch for.
  const fastify = typeof code === 'string' && code.startsWith('FST_');
  if (fastify && typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const grpc = CODE_FOR_STATUS[statusCode] ?? GrpcCode.INVALID_ARGUMENT;
    return { code: grpc, message: quotingLittle(String(message)), status: statusCode, internal: false };
  }
  return { code: GrpcCode.INTERNAL, message: 'internal error', status: 500, internal: true };
}

/**
 * What of a request URL goes into logs: the path, at most 200 characters, never the query string (a callback's
 * `code`, a token someone put in a URL).
 */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)).slice(0, 200);
}

/** The error handler of every Flipt-shaped scope: coded errors as they are, anything else as a logged 500. */
export function errorHandler(log: { error(fields: object, message: string): void }) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const response = errorResponse(error);
    if (response.internal) log.error({ err: error, path: pathOf(request.url) }, 'request failed');
    return sendError(reply, response.code, response.message, response.status);
  };
}
