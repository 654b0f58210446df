import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { WebSocketServer } from 'ws';

/** One request as the upstream received it. */
export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Bytes of body, counted as they arrived (nothing is kept). */
  bytes: number;
  /** When its first body byte arrived, and when the body ended (performance.now()). */
  firstByteAt?: number;
  endedAt?: number;
}

/**
 * A service behind the gateway, for tests: it records what reaches it (headers, body size, timing), answers
 * `{"ok": true, "url": ...}`, waits `?delay=<ms>` first when asked, and echoes websocket messages prefixed with the
 * user the gateway said it was.
 */
export interface TestUpstream {
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}

export async function startUpstream(): Promise<TestUpstream> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const entry: Received = {
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      bytes: 0,
    };
    received.push(entry);
    request.on('data', (chunk: Buffer) => {
      entry.firstByteAt ??= performance.now();
      entry.bytes += chunk.length;
    });
    request.on('end', () => {
      entry.endedAt = performance.now();
      const delay = Number(new URL(entry.url, 'http://upstream').searchParams.get('delay') ?? 0);
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        response.end(JSON.stringify({ ok: true, url: entry.url, bytes: entry.bytes }));
      }, delay);
    });
  });
  const websockets = new WebSocketServer({ server });
  websockets.on('connection', (socket, request) => {
    received.push({ method: 'WEBSOCKET', url: request.url ?? '', headers: request.headers, bytes: 0 });
    const user = String(request.headers['x-auth-request-user'] ?? 'nobody');
    socket.on('message', (message) => socket.send(`${user}: ${String(message)}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstream: TestUpstream = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of websockets.clients) client.terminate();
        websockets.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  onTestFinished(() => upstream.close());
  return upstream;
}
