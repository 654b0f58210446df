import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { lastAnswer } from './client-errors.ts';
import { GrpcCode } from './errors.ts';

/** What a client speaking HTTP/2 with prior knowledge sends first (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * ALPN for an HTTPS port that also takes gRPC: the server's order wins (OpenSSL picks the first of ours the client
 * offers), so a browser, which offers both, keeps HTTP/1.1, and a gRPC client, which offers only `h2`, gets HTTP/2.
 */
export const ALPN_PROTOCOLS = ['http/1.1', 'h2'];

/**
 * Lets one listening HTTP server take HTTP/2 connections too, for gRPC: on a plain port, a connection whose first
 * bytes are HTTP/2's preface (h2c with prior knowledge) is handed to `onHttp2` with those bytes put back; on TLS,
 * one that negotiated `h2` by ALPN (give the server {@link ALPN_PROTOCOLS}). Every other connection goes to Node's
 * HTTP/1.1 handling as before. A plain connection that sends nothing within the server's `headersTimeout` is closed
 * (while it says nothing, it is no one's to time out).
 */
export function acceptHttp2(
  server: HttpServer | HttpsServer,
  tls: boolean,
  onHttp2: (socket: Socket) => void,
): void {
  const event = tls ? 'secureConnection' : 'connection';
  // Node's own HTTP/1.1 listeners, registered when the server was created: they now run only for HTTP/1.1.
  const http1 = server.listeners(event) as ((socket: Socket) => void)[];
  server.removeAllListeners(event);
  const toHttp1 = (socket: Socket) => {
    for (const listener of http1) listener.call(server, socket);
  };
  if (tls) {
    server.on(event, (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') onHttp2(socket);
      else toHttp1(socket);
    });
    return;
  }
  server.on(event, (socket: Socket) => {
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), server.headersTimeout || 60_000);
    timer.unref();
    const decide = (http2: boolean) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      if (seen.length > 0) socket.unshift(seen);
      if (http2) onHttp2(socket);
      else toHttp1(socket);
    };
    function onReadable() {
      for (
        let chunk = socket.read() as Buffer | null;
        chunk !== null;
        chunk = socket.read() as Buffer | null
      ) {
        seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      }
      const compared = Math.min(seen.length, PREFACE.length);
      const http2 = seen.subarray(0, compared).equals(PREFACE.subarray(0, compared));
      if (http2 && seen.length < PREFACE.length) return;
      decide(http2);
    }
    // A client that half-closes while what it sent could still be HTTP/2's preface sent neither a request nor a
    // connection preface: answered as HTTP/1.1 answers a message cut short (the stream has ended, so it can no
    // longer be handed over).
    function onEnd() {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      if (seen.length === 0) return void socket.destroy();
      lastAnswer(socket, {
        status: 400,
        code: GrpcCode.INVALID_ARGUMENT,
        message: 'malformed HTTP request: the connection ended before the request did',
      });
    }
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
  });
}
