import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
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
  /** When the request was cut off before its body ended (the gateway aborted it, or its client went away). */
  abortedAt?: number;
  /** For `/download`: bytes written to the response so far, and whether it was closed before the end. */
  sent?: number;
  cutShort?: boolean;
}

const MB = 1024 * 1024;

/** Writes `megabytes` MB as fast as the connection takes them (waiting for `drain`), counting in `entry.sent`. */
function sendDownload(response: ServerResponse, entry: Received, megabytes: number) {
  const chunk = Buffer.alloc(MB, 1);
  entry.sent = 0;
  response.once('close', () => {
    if (!response.writableFinished) entry.cutShort = true;
  });
  response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': megabytes * MB });
  const more = () => {
    while ((entry.sent ?? 0) < megabytes * MB && !response.destroyed) {
      entry.sent = (entry.sent ?? 0) + MB;
      if (!response.write(chunk)) return void response.once('drain', more);
    }
    response.end();
  };
  more();
}

/**
 * A request target read as a URL: `//x` and `/\x` as paths (`new URL(target, base)` reads them as a host, and throws
 * on most), and a target no URL can hold (`*`) as `/`.
 */
function targetUrl(target: string): URL {
  try {
    return new URL(`http://upstream${target.startsWith('/') ? target : `/${target}`}`);
  } catch {
    return new URL('http://upstream/');
  }
}

/**
 * A service behind the gateway, for tests: it records what reaches it (headers, body size, timing), answers
 * `{"ok": true, "url": ...}` (chunked, or with a Content-Length for `?sized`), waits `?delay=<ms>` first when asked, sends `/download?mb=<n>` MB as the connection
 * takes them, and echoes websocket messages prefixed with the
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
    request.on('close', () => {
      if (!request.complete) entry.abortedAt = performance.now();
    });
    request.on('end', () => {
      entry.endedAt = performance.now();
      const target = targetUrl(entry.url);
      if (target.pathname === '/download') {
        return sendDownload(response, entry, Number(target.searchParams.get('mb') ?? 1));
      }
      const delay = Number(target.searchParams.get('delay') ?? 0);
      // `?sized` answers with a Content-Length; otherwise the answer is chunked.
      const sized = target.searchParams.has('sized');
      setTimeout(() => {
        const body = JSON.stringify({ ok: true, url: entry.url, bytes: entry.bytes });
        response.writeHead(200, {
          'content-type': 'application/json',
          'x-upstream': 'yes',
          // The body says too, but an answer to HEAD has none.
          ...(/^[\x21-\x7e]*$/.test(entry.url) && { 'x-upstream-url': entry.url }),
          ...(sized && { 'content-length': Buffer.byteLength(body) }),
        });
        response.end(body);
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
