import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';

/** What a raw client does, in order: send bytes, wait, or close its side (`end`) or the whole connection. */
export type RawStep = string | Buffer | { readonly wait: number } | { readonly close: 'end' | 'destroy' };

/** One answer read off the wire. */
export interface RawAnswer {
  readonly status: number;
  /** Header names in lower case; a repeated header's values joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What a raw exchange saw: every byte the server sent, and whether it closed the connection. */
export interface RawExchange {
  readonly bytes: string;
  readonly closedByServer: boolean;
  /** The answers in `bytes`, in order (interim 1xx answers left out). */
  readonly answers: readonly RawAnswer[];
}

/**
 * Talks raw HTTP to `host:port` (what fetch will not send: malformed messages, pipelining, abrupt closes), then
 * waits until the server closes the connection or has been silent for `quietMs`.
 */
export async function rawExchange(
  port: number,
  steps: readonly RawStep[],
  { host = '127.0.0.1', quietMs = 400 } = {},
): Promise<RawExchange> {
  const socket = connect(port, host);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  let bytes = '';
  let closed = false;
  let lastData = Date.now();
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.toString('latin1');
    lastData = Date.now();
  });
  const whenClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('end', () => {
    closed = true;
  });
  for (const step of steps) {
    if (typeof step === 'string' || Buffer.isBuffer(step)) socket.write(step);
    else if ('wait' in step) await sleep(step.wait);
    else if (step.close === 'end') socket.end();
    else socket.destroy();
  }
  lastData = Date.now();
  for (;;) {
    const quiet = quietMs - (Date.now() - lastData);
    if (quiet <= 0 || socket.destroyed) break;
    await Promise.race([whenClosed, sleep(quiet)]);
    if (closed) break;
  }
  socket.destroy();
  return { bytes, closedByServer: closed, answers: parseAnswers(bytes) };
}

/** Reads a chunked body at `at`; returns it and where it ends, or `undefined` when it is cut short. */
function chunked(text: string, at: number): { body: string; end: number } | undefined {
  let body = '';
  let position = at;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', position);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(text.slice(position, lineEnd), 16);
    if (Number.isNaN(size)) return undefined;
    position = lineEnd + 2;
    if (size === 0) {
      const trailersEnd = text.indexOf('\r\n\r\n', position - 2);
      return trailersEnd < 0 ? undefined : { body, end: trailersEnd + 4 };
    }
    body += text.slice(position, position + size);
    position += size + 2;
  }
}

/**
 * The answers in a byte stream, in order: each framed by `Content-Length`, chunked encoding, or the end of the
 * stream. Interim (1xx) answers are skipped; an answer cut short is left out.
 */
export function parseAnswers(text: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let position = 0;
  while (position < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', position);
    if (headEnd < 0) break;
    const [statusLine = '', ...lines] = text.slice(position, headEnd).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
    if (Number.isNaN(status)) break;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const bodyStart = headEnd + 4;
    if (status < 200 && status !== 101) {
      position = bodyStart;
      continue;
    }
    let body: string;
    if (status === 101 || status === 204 || status === 304) {
      body = '';
      position = bodyStart;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const read = chunked(text, bodyStart);
      if (read === undefined) break;
      body = read.body;
      position = read.end;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (text.length < bodyStart + length) break;
      body = text.slice(bodyStart, bodyStart + length);
      position = bodyStart + length;
    } else {
      body = text.slice(bodyStart);
      position = text.length;
    }
    answers.push({ status, headers, body });
    if (status === 101) break;
  }
  return answers;
}

/**
 * A TCP server on 127.0.0.1 for one test (a scripted upstream, a relay), closed with its connections when the test
 * ends; resolves to its port.
 */
export async function serveTcp(onConnection: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A TCP server on loopback that accepts connections and never answers (a store that hangs); closed after the test. */
export async function startSilentServer(): Promise<{
  readonly port: number;
  readonly connections: () => number;
}> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => sockets.size };
}
