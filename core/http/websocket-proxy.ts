import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createAddressMatcher } from '../address.ts';
import { clientAddress } from '../observe/client.ts';
import type { Runtime } from '../runtime.ts';
import { crossOriginRefused, decide } from './authenticate.ts';
import { hostProblem, lastAnswer } from './client-errors.ts';
import { earlierAnswers, peerAddress } from './connections.ts';
import { createCrossOriginCheck } from './csrf.ts';
import { type GrpcCodeValue, httpStatus, UNAUTHENTICATED_MESSAGE } from './errors.ts';
import { identityHeaderNames, staysOnHop, upstreamHeaders } from './identity.ts';
import { forwardablePath, hopOf } from './proxy.ts';
import { isRetiring } from './retiring.ts';

/** A plain HTTP answer on a socket that asked to be upgraded, in Flipt's error shape, then closed. */
function refuse(
  socket: Duplex,
  status: number,
  code: GrpcCodeValue,
  message: string,
  extra?: Record<string, string>,
) {
  lastAnswer(socket, { status, code, message }, extra);
}

/**
 * The status line and headers of the upstream's answer, as written on the wire, without those that describe its
 * hop ({@link staysOnHop}). A 101 gets only `Connection: Upgrade` and `Upgrade: websocket` of them; any other answer
 * is the last on its connection.
 */
function head(status: number, message: string, rawHeaders: readonly string[]): string {
  const lines = [`HTTP/1.1 ${status} ${message}`];
  const connection: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'connection') connection.push(rawHeaders[i + 1] ?? '');
  }
  const local = staysOnHop(connection);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    if (!local(name.toLowerCase())) lines.push(`${name}: ${rawHeaders[i + 1]}`);
  }
  lines.push(...(status === 101 ? ['Connection: Upgrade', 'Upgrade: websocket'] : ['connection: close']));
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The most a client may send before its upgrade is answered (it should send nothing); then it is not read on. */
const EARLY_BYTES = 64 * 1024;

/**
 * Reads what a client sends while its upgrade is decided, because a socket no one reads never reports that its
 * client hung up, and the upgrade would go upstream for no one: the client's end closes the connection. The bytes
 * are kept for the upstream (at most {@link EARLY_BYTES}); the returned function stops reading and hands them over.
 */
function watchEarlyBytes(socket: Duplex, firstBytes: Buffer): () => Buffer {
  const early = [firstBytes];
  let size = firstBytes.length;
  const collect = (chunk: Buffer) => {
    early.push(chunk);
    size += chunk.length;
    if (size >= EARLY_BYTES) socket.pause();
  };
  const hungUp = () => socket.destroy();
  socket.on('data', collect);
  socket.once('end', hungUp);
  return () => {
    socket.off('data', collect);
    socket.off('end', hungUp);
    return Buffer.concat(early);
  };
}

/**
 * Websockets through the gateway. Only a `GET` asking to upgrade to `websocket` is taken; it is checked like any
 * request (cross-origin protection, as for a state-changing request; authentication and exclusions), then
 * replayed to the upstream with the same header rewriting as HTTP. Only when the upstream answers 101 are the two
 * connections joined; any other answer is passed back and the connection closed, so nothing but a websocket ever
 * flows unchecked. The upstream gets `gateway.timeout` to answer; every connection, joined or not, ends when the
 * server closes.
 */
export function proxyWebsockets(
  app: FastifyInstance,
  runtime: Runtime,
  isExcluded: (url: string) => boolean,
): void {
  const { gateway, authentication } = runtime.config;
  const upstream = new URL(gateway.upstream as string);
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const names = identityHeaderNames(gateway);
  const trusted = createAddressMatcher(gateway.trusted_proxies);
  const crossOrigin = createCrossOriginCheck(authentication.session, runtime.log);
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  const record = runtime.metrics.proxy('websocket');
  const open = new Set<Duplex>();
  // Before the server waits for its connections to end: open tunnels would keep it waiting.
  app.addHook('preClose', async () => {
    // A replaced configuration leaves its tunnels open: they were authenticated, and the server closes them itself.
    if (isRetiring(app)) return;
    for (const socket of open) socket.destroy();
  });

  async function upgrade(request: IncomingMessage, socket: Duplex, earlyBytes: () => Buffer): Promise<void> {
    // Requests pipelined before this one are answered first: nothing is written here before their answers.
    await earlierAnswers(socket);
    const url = request.url ?? '/';
    const path = forwardablePath(url);
    if (request.method !== 'GET' || String(request.headers.upgrade).toLowerCase() !== 'websocket') {
      return refuse(socket, 400, 3, 'only websocket upgrades are forwarded');
    }
    // RFC 9112 §3.2, as for other requests.
    const problem = hostProblem(request);
    if (problem !== undefined) return refuse(socket, 400, 3, problem);
    if (path === undefined) return refuse(socket, 400, 3, 'the request target cannot be forwarded');
    if (path === '/auth/v1' || path.startsWith('/auth/v1/') || path === '/health' || path === '/metrics') {
      return refuse(socket, 404, 5, 'Not Found');
    }
    const refusal = crossOrigin?.('WEBSOCKET', request.headers);
    // The client's address for a refusal's audit event: past trusted proxies, as for other requests.
    const ip = () => clientAddress(peerAddress(request), request.headers['x-forwarded-for'], trusted);
    if (refusal !== undefined) {
      crossOriginRefused(runtime, url, refusal, ip);
      return refuse(socket, 403, 7, refusal);
    }
    let identity: Parameters<typeof upstreamHeaders>[1]['authentication'];
    if (authentication.required && !isExcluded(url)) {
      const decision = await decide(runtime, request.headers, url, ip);
      if (decision.kind === 'error')
        return refuse(socket, httpStatus(decision.code), decision.code, decision.message);
      if (decision.kind === 'unauthenticated') {
        return refuse(socket, 401, 16, UNAUTHENTICATED_MESSAGE, {
          'www-authenticate': UNAUTHENTICATED_MESSAGE,
        });
      }
      identity = decision.authentication;
    }
    // The client left while it was being checked: nothing goes upstream.
    if (socket.destroyed || !socket.writable) return;
    const hop = hopOf(request, trusted);
    if (hop === undefined) return refuse(socket, 400, 9, 'the client’s address is unknown');
    const headers = upstreamHeaders(request.headers, {
      names,
      authentication: identity,
      identify: runtime.pipeline.identify,
      passAuthorization: gateway.pass_authorization,
      hop,
      upgrade: true,
    });
    headers.host = upstream.host;

    let outgoing: ClientRequest;
    try {
      outgoing = send({
        hostname: upstream.hostname,
        port: upstream.port,
        method: 'GET',
        path: `${basePath}${url}`,
        headers: headers as OutgoingHttpHeaders,
        timeout: gateway.timeout,
      });
    } catch {
      // Node refuses a path or header it could not send safely.
      return refuse(socket, 400, 3, 'the request cannot be forwarded as sent');
    }
    const started = performance.now();
    let counted = false;
    /** Counts the upgrade once: the upstream's status, or `error` when it gave none (unless the client left first). */
    const count = (status: number | 'error') => {
      if (counted) return;
      counted = true;
      if (status === 'error') {
        if (!socket.destroyed) record('error');
      } else record(status, (performance.now() - started) / 1000);
    };
    // The client gave up: so does the upstream side.
    socket.once('close', () => outgoing.destroy());
    outgoing.on('timeout', () => {
      count('error');
      outgoing.destroy();
      refuse(socket, 504, 4, `upstream did not answer within ${gateway.timeout / 1000}s`);
    });
    outgoing.on('error', () => {
      count('error');
      refuse(socket, 502, 14, 'upstream unavailable');
    });
    // The upstream refused the upgrade: its answer goes back, and this connection ends with it.
    outgoing.on('response', (response) => {
      count(response.statusCode ?? 502);
      outgoing.setTimeout(0);
      outgoing.removeAllListeners('error');
      outgoing.on('error', () => socket.destroy());
      if (socket.destroyed) return response.destroy();
      socket.write(head(response.statusCode ?? 502, response.statusMessage ?? '', response.rawHeaders));
      response.pipe(socket);
    });
    outgoing.on('upgrade', (response, upstreamSocket, upstreamHead) => {
      count(response.statusCode ?? 101);
      outgoing.setTimeout(0);
      if (socket.destroyed) return upstreamSocket.destroy();
      // Switching to anything but the websocket asked for would let an unchecked protocol through (Go's
      // ReverseProxy refuses it the same way).
      if (String(response.headers.upgrade).toLowerCase() !== 'websocket') {
        upstreamSocket.destroy();
        return refuse(socket, 502, 14, 'upstream switched to another protocol');
      }
      socket.write(head(101, response.statusMessage ?? 'Switching Protocols', response.rawHeaders));
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      const early = earlyBytes();
      if (early.length > 0) upstreamSocket.write(early);
      upstreamSocket.pipe(socket);
      socket.pipe(upstreamSocket);
      const close = () => {
        upstreamSocket.destroy();
        socket.destroy();
      };
      upstreamSocket.on('error', close);
      upstreamSocket.once('close', close);
      socket.once('close', close);
    });
    try {
      outgoing.end();
    } catch {
      // Node refuses to send some headers only when the request is written.
      outgoing.destroy();
      refuse(socket, 400, 3, 'the request cannot be forwarded as sent');
    }
  }

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, firstBytes: Buffer) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    upgrade(request, socket, watchEarlyBytes(socket, firstBytes)).catch((error: unknown) => {
      runtime.log.error({ err: error }, 'websocket upgrade failed');
      refuse(socket, 500, 13, 'internal error');
    });
  });
}
