import type { ServerHttp2Stream } from 'node:http2';

/** The event the server emits on an application's `server` for each gRPC call on the HTTP port (`core/server.ts`). */
export const HTTP2_STREAM = 'http2Stream';

/** Whether a request is a gRPC call: `application/grpc` or `application/grpc+<codec>` (gRPC over HTTP/2, "Requests"). */
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return type === 'application/grpc' || type.startsWith('application/grpc+');
}

/**
 * `grpc-message` as gRPC over HTTP/2 says to send it: percent-encoded UTF-8, every byte outside printable ASCII and
 * `%` itself escaped.
 */
export function encodeGrpcMessage(message: string): string {
  let encoded = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    encoded +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/** A gRPC status as trailers (or as the headers of a trailers-only response). */
export function statusTrailers(code: number, message: string): Record<string, string> {
  return { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) };
}

/**
 * Ends a call with a trailers-only response (one HEADERS frame with END_STREAM: HTTP 200, `grpc-status` `code`,
 * `grpc-message` `message`), the way a gRPC server refuses a call before any message. Nothing happens when the stream
 * is gone or already answered.
 */
export function respondWithStatus(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', ...statusTrailers(code, message) },
    { endStream: true },
  );
}
