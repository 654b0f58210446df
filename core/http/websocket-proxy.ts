import { type IncomingMessage, STATUS_CODES } from 'node:http';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { createAddressMatcher } from '../address.ts';
import type { Runtime } from '../runtime.ts';
import { type Decision, decide } from './authenticate.ts';
import { httpStatus } from './errors.ts';
import { identityHeaderNames, upstreamHeaders } from './identity.ts';

/** A plain HTTP answer on a socket that asked to be upgraded, in Flipt's error shape, then closed. */
function refuse(
  socket: Socket,
  status: number,
  code: number,
  message: string,
  extra: Record<string, string> = {},
) {
  const body = JSON.stringify({ code, message, details: [] });
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    ...extra,
  };
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\r\n')}\r\n\r\n${body}`,
  );
}

/**
 * Websockets through the gateway: an upgrade request to a proxied path is authenticated like any other request
 * (exclusions included) before anything reaches the upstream; then the upgrade is replayed to the upstream with
 * the same header rewriting as HTTP, and the two sockets are joined.
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
  const secure = upstream.protocol === 'https:';
  const port = Number(upstream.port || (secure ? 443 : 80));

  app.server.on('upgrade', async (request: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = request.url ?? '/';
    if (url.startsWith('/auth/v1') || url === '/health') {
      return refuse(socket, 400, 3, 'websockets are not served here');
    }
    let decision: Decision | undefined;
    if (authentication.required && !isExcluded(url)) {
      decision = await decide(runtime, request.headers, url);
      if (decision.kind === 'error')
        return refuse(socket, httpStatus(decision.code), decision.code, decision.message);
      if (decision.kind === 'unauthenticated') {
        return refuse(socket, 401, 16, 'request was not authenticated', {
          'www-authenticate': 'request was not authenticated',
        });
      }
    }
    const peer = request.socket.remoteAddress;
    const headers = upstreamHeaders(request.headers, {
      names,
      authentication: decision?.kind === 'authenticated' ? decision.authentication : undefined,
      passAuthorization: gateway.pass_authorization,
      hop: {
        peer,
        trusted: trusted(peer),
        protocol: (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      },
    });
    headers.host = upstream.host;

    const target = secure
      ? connectTls({ host: upstream.hostname, port, servername: upstream.hostname })
      : connectTcp({ host: upstream.hostname, port });
    target.setTimeout(gateway.timeout, () => {
      target.destroy();
      if (!socket.destroyed)
        refuse(socket, 504, 4, `upstream did not answer within ${gateway.timeout / 1000}s`);
    });
    target.once('error', () => {
      if (!socket.destroyed) refuse(socket, 502, 14, 'upstream unavailable');
    });
    target.once(secure ? 'secureConnect' : 'connect', () => {
      target.setTimeout(0);
      const lines = [`${request.method ?? 'GET'} ${basePath}${url} HTTP/1.1`];
      for (const [name, value] of Object.entries(headers)) {
        for (const item of [value ?? ''].flat()) lines.push(`${name}: ${item}`);
      }
      target.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) target.write(head);
      target.pipe(socket);
      socket.pipe(target);
      const close = () => {
        target.destroy();
        socket.destroy();
      };
      target.once('close', close);
      socket.once('close', close);
    });
  });
}
