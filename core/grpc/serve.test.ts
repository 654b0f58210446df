import { writeFileSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type Server, startServer } from '../server.ts';
import { createTestCa } from '../test-support/tls.ts';
import { tempDir } from '../test-support/tmp.ts';
import { fliptAuthPackage } from './auth-services.ts';

/** `portcullis serve` answers Flipt's auth services on `server.grpc_port`, with the configuration in force. */

type Client = grpc.Client & Record<string, (...args: unknown[]) => void>;

function client(address: string, credentials = grpc.credentials.createInsecure()): Client {
  const fliptAuth = (fliptAuthPackage().flipt as grpc.GrpcObject).auth as grpc.GrpcObject;
  const Constructor = fliptAuth.AuthenticationService as grpc.ServiceClientConstructor;
  const created = new Constructor(address, credentials) as unknown as Client;
  onTestFinished(() => created.close());
  return created;
}

/** `GetAuthenticationSelf` with `Bearer <token>`: the id, or the status code. */
function self(c: Client, token: string): Promise<string | number> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    c.GetAuthenticationSelf?.(
      {},
      metadata,
      { deadline: Date.now() + 5_000 },
      (error: grpc.ServiceError | null, value: { id: string }) => resolve(error ? error.code : value.id),
    );
  });
}

const config = (tokens: Record<string, string>) =>
  [
    'server: {host: 127.0.0.1, http_port: 0, grpc_port: 0}',
    'authentication:',
    '  required: true',
    '  methods:',
    '    token:',
    '      enabled: true',
    '      storage:',
    '        tokens:',
    ...Object.entries(tokens).map(([name, credential]) => `          ${name}: {credential: ${credential}}`),
    '',
  ].join('\n');

/** `config` as an object: one static token, HTTP and gRPC on free ports of 127.0.0.1. */
const tokenConfig = (credential: string) => ({
  server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
  authentication: {
    required: true,
    methods: { token: { enabled: true, storage: { tokens: { ci: { credential } } } } },
  },
});

async function serve(options: Parameters<typeof startServer>[0]): Promise<Server> {
  const server = await startServer({ env: {}, logDestination: { write: () => undefined }, ...options });
  onTestFinished(() => server.close());
  return server;
}

describe('gRPC on server.grpc_port', () => {
  it('serves the auth services, and a reload swaps the configuration behind them', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, config({ first: 'first-secret' }));
    const server = await serve({ file });
    expect(server.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const c = client(server.grpcAddress);
    expect(await self(c, 'first-secret')).toBe('first');
    writeFileSync(file, config({ second: 'second-secret' }));
    expect(await server.reload()).toBe(true);
    expect(await self(c, 'first-secret')).toBe(grpc.status.UNAUTHENTICATED);
    expect(await self(c, 'second-secret')).toBe('second');
    await server.close();
    expect(await self(c, 'second-secret')).toBe(grpc.status.UNAVAILABLE);
  });

  it('with protocol https, over TLS with the same certificate', async () => {
    const dir = tempDir();
    const ca = createTestCa(dir);
    const leaf = ca.issue(['127.0.0.1', 'localhost']);
    const server = await serve({
      object: {
        server: {
          host: '127.0.0.1',
          protocol: 'https',
          https_port: 0,
          grpc_port: 0,
          cert_file: leaf.certFile,
          cert_key: leaf.keyFile,
        },
        authentication: {
          required: true,
          methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'tls-secret' } } } } },
        },
      },
    });
    expect(
      await self(client(server.grpcAddress, grpc.credentials.createSsl(Buffer.from(ca.caPem))), 'tls-secret'),
    ).toBe('ci');
    // A client that does not speak TLS gets nothing.
    expect(await self(client(server.grpcAddress), 'tls-secret')).toBe(grpc.status.UNAVAILABLE);
  });

  it('oversized metadata and garbage on the connection are refused, and the server goes on answering', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, config({ ci: 'ci-secret' }));
    const server = await serve({ file });
    const c = client(server.grpcAddress);
    // 100 KiB of authorization: over grpc-js's metadata limit.
    // grpc-js refuses headers over its limit (the stream is reset: INTERNAL), before any handler sees them.
    expect(await self(c, 'x'.repeat(100 * 1024))).toBe(grpc.status.INTERNAL);
    const [host, port] = server.grpcAddress.split(':') as [string, string];
    for (const garbage of [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff', 'latin1'),
      Buffer.alloc(64 * 1024, 0xab),
    ]) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), host, () => socket.end(garbage));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    }
    expect(await self(client(server.grpcAddress), 'ci-secret')).toBe('ci');
  });

  it('honours Flipt’s gRPC keepalive settings: GOAWAY after grpc_conn_max_idle_time idle, and after grpc_conn_max_age', async () => {
    const goawayAfter = async (server: Server) => {
      const session = connectHttp2(`http://${server.grpcAddress}`);
      onTestFinished(() => session.destroy());
      const started = Date.now();
      await new Promise((resolve) => session.once('goaway', resolve));
      return Date.now() - started;
    };
    const idle = await serve({
      object: {
        server: { host: '127.0.0.1', http_port: 0, grpc_port: 0, grpc_conn_max_idle_time: '300ms' },
        authentication: { required: false },
      },
    });
    expect(await goawayAfter(idle)).toBeLessThan(5_000);
    const aged = await serve({
      object: {
        server: {
          host: '127.0.0.1',
          http_port: 0,
          grpc_port: 0,
          grpc_conn_max_age: '300ms',
          grpc_conn_max_age_grace: '100ms',
        },
        authentication: { required: false },
      },
    });
    expect(await goawayAfter(aged)).toBeLessThan(5_000);
    // Without them, a connection is left alone (as in Flipt).
    const plain = await serve({
      object: {
        server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
        authentication: { required: false },
      },
    });
    const quiet = await Promise.race([
      goawayAfter(plain),
      new Promise((resolve) => setTimeout(() => resolve('none'), 1_500)),
    ]);
    expect(quiet).toBe('none');
  });

  it('a client that resets while the services load, or sends garbage, does not stop the server', async () => {
    const server = await serve({ object: { ...tokenConfig('ci-secret') } });
    const [host, port] = server.grpcAddress.split(':') as [string, string];
    // The first connections wait, unread, for grpc-js: one goes away before it is handed over, one resets.
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), host, () => {
        socket.write('PRI * HTTP/2.0\r\n');
        socket.destroy();
        resolve();
      });
    });
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), host, () => socket.resetAndDestroy());
      socket.on('close', () => resolve());
      socket.on('error', () => undefined);
    });
    expect(await self(client(server.grpcAddress), 'ci-secret')).toBe('ci');
  });

  it('a stop while an HTTP/2 connection is open closes it, resolves, and leaves the port free', async () => {
    const server = await startServer({
      object: { ...tokenConfig('ci-secret') },
      env: {},
      logDestination: { write: () => undefined },
    });
    const [host, port] = server.grpcAddress.split(':') as [string, string];
    const session = connectHttp2(`http://${server.grpcAddress}`);
    onTestFinished(() => session.destroy());
    const closed = new Promise<void>((resolve) => session.on('close', () => resolve()));
    session.on('error', () => undefined);
    await new Promise((resolve) => session.once('connect', resolve));
    await server.close();
    await closed;
    const again = createServer();
    await new Promise<void>((resolve) => again.listen(Number(port), host, resolve));
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });

  it('binds a host name: grpcAddress keeps the name, and its address answers', async () => {
    const server = await serve({
      object: { ...tokenConfig('ci-secret'), server: { host: 'localhost', http_port: 0, grpc_port: 0 } },
    });
    const [name, port] = server.grpcAddress.split(':') as [string, string];
    expect(name).toBe('localhost');
    expect(await self(client(`localhost:${port}`), 'ci-secret')).toBe('ci');
  });

  it('a gRPC port in use stops the start with a message naming it, and leaves nothing listening', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const error = await startServer({
      object: {
        server: { host: '127.0.0.1', http_port: 0, grpc_port: port },
        authentication: { required: false },
      },
      env: {},
      logDestination: { write: () => undefined },
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_SERVER_START' });
    expect(String((error as Error).message)).toContain(`127.0.0.1:${port} (gRPC, server.grpc_port)`);
  });
});
