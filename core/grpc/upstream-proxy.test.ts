import { writeFileSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startServe } from '../test-support/cli.ts';
import {
  type EchoReply,
  type EchoRequest,
  echoClientConstructor,
  startEchoUpstream,
} from '../test-support/grpc-echo.ts';
import { startRedis } from '../test-support/redis.ts';
import { serveForTest, serveReloadable } from '../test-support/server.ts';
import { createTestCa } from '../test-support/tls.ts';
import { tempDir } from '../test-support/tmp.ts';

/** gRPC calls through the gateway (the HTTP port, HTTP/2) to a real gRPC upstream. */

const TOKEN = 'grpc-client-secret';

const config = (upstream: string, extra: Record<string, unknown> = {}) => ({
  authentication: {
    required: true,
    methods: { token: { enabled: true, storage: { tokens: { ci: { credential: TOKEN } } } } },
  },
  gateway: { upstream },
  ...extra,
});

type Echo = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function echoClient(address: string, credentials = grpc.credentials.createInsecure(), options = {}): Echo {
  const Client = echoClientConstructor();
  const client = new Client(address, credentials, options) as Echo;
  onTestFinished(() => client.close());
  return client;
}

const metadata = (pairs: Record<string, string>) => {
  const m = new grpc.Metadata();
  for (const [key, value] of Object.entries(pairs)) m.set(key, value);
  return m;
};

const bearer = { authorization: `Bearer ${TOKEN}` };

function unary(client: Echo, method: string, request: EchoRequest, pairs: Record<string, string> = bearer) {
  return new Promise<EchoReply>((resolve, reject) =>
    client[method]?.(request, metadata(pairs), (error: grpc.ServiceError | null, reply: EchoReply) =>
      error ? reject(error) : resolve(reply),
    ),
  );
}

function failure(promise: Promise<unknown>) {
  return promise.then(
    () => {
      throw new Error('the call succeeded');
    },
    (error: grpc.ServiceError) => error,
  );
}

const hostPort = (address: string) => new URL(address).host;

describe('gateway: gRPC upstreams', () => {
  it('proxies a unary call with the identity metadata, on the HTTP port beside HTTP/1.1', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const client = echoClient(hostPort(t.server.address));
    const reply = await unary(
      client,
      'Unary',
      { message: 'hello' },
      {
        ...bearer,
        'x-custom': 'kept',
        'x-auth-request-id': 'forged',
      },
    );
    expect(reply.message).toBe('hello');
    expect(reply.metadata).toMatchObject({
      'x-auth-request-method': 'METHOD_TOKEN',
      'x-custom': 'kept',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
    });
    expect(reply.metadata['x-auth-request-id']).not.toBe('forged');
    expect(reply.metadata['x-auth-request-id']).toMatch(/./);
    expect(reply.metadata.authorization).toBeUndefined();
    // The same port still answers HTTP/1.1.
    expect((await t.fetch('/health')).status).toBe(200);
  });

  it('streams both ways: server, client and bidi streaming, each with the identity metadata', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const client = echoClient(hostPort(t.server.address));

    const served: EchoReply[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.ServerStream?.(
        { message: 'tick', count: 5 },
        metadata(bearer),
      ) as grpc.ClientReadableStream<EchoReply>;
      call.on('data', (reply: EchoReply) => served.push(reply));
      call.on('error', reject);
      call.on('end', resolve);
    });
    expect(served.map((reply) => reply.message)).toEqual(['tick#0', 'tick#1', 'tick#2', 'tick#3', 'tick#4']);

    const joined = await new Promise<EchoReply>((resolve, reject) => {
      const call = client.ClientStream?.(
        metadata(bearer),
        (error: grpc.ServiceError | null, reply: EchoReply) => (error ? reject(error) : resolve(reply)),
      ) as grpc.ClientWritableStream<EchoRequest>;
      for (const message of ['a', 'b', 'c']) call.write({ message });
      call.end();
    });
    expect(joined.message).toBe('a+b+c');

    // Bidi: each answer comes before the next message is sent (messages are not buffered to the end).
    const bidi = client.Bidi?.(metadata(bearer)) as grpc.ClientDuplexStream<EchoRequest, EchoReply>;
    const next = () => new Promise<EchoReply>((resolve) => bidi.once('data', resolve));
    const answers: EchoReply[] = [];
    for (const message of ['one', 'two', 'three']) {
      const answer = next();
      bidi.write({ message });
      answers.push(await answer);
    }
    bidi.end();
    await new Promise((resolve) => bidi.on('status', resolve));
    expect(answers.map((answer) => answer.message)).toEqual(['echo:one', 'echo:two', 'echo:three']);
    expect(answers[0]?.metadata['x-auth-request-method']).toBe('METHOD_TOKEN');
    expect(upstream.calls.map((call) => call.method)).toEqual(['ServerStream', 'ClientStream', 'Bidi']);
  });

  it('refuses a call without a valid credential with status 16 and Flipt’s message, before the upstream', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const client = echoClient(hostPort(t.server.address));
    for (const pairs of [
      {} as Record<string, string>,
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic eDp5' },
      { authorization: 'Bearer' },
    ]) {
      const error = await failure(unary(client, 'Unary', { message: 'x' }, pairs));
      expect(error.code, JSON.stringify(pairs)).toBe(grpc.status.UNAUTHENTICATED);
      expect(error.details).toBe('request was not authenticated');
    }
    const bidi = client.Bidi?.(metadata({})) as grpc.ClientDuplexStream<EchoRequest, EchoReply>;
    bidi.write({ message: 'x' });
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      bidi.on('error', () => undefined);
      bidi.on('status', resolve);
    });
    expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(upstream.calls).toEqual([]);
  });

  it('lets excluded sections through without a credential', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(
      config(`h2c://${upstream.address}`, {
        gateway: {
          upstream: `h2c://${upstream.address}`,
          sections: { echo: { prefixes: ['/portcullis.test.Echo/Unary'], exclude: true } },
        },
      }),
    );
    const client = echoClient(hostPort(t.server.address));
    expect((await unary(client, 'Unary', { message: 'open' }, {})).message).toBe('open');
    expect((await failure(unary(client, 'Fail', { count: 5 }, {}))).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('passes on the upstream’s status, message and trailing metadata', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const client = echoClient(hostPort(t.server.address));
    const error = await failure(unary(client, 'Fail', { count: grpc.status.FAILED_PRECONDITION }));
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.details).toBe('failed on purpose');
    expect(error.metadata.get('x-detail')).toEqual(['kept']);

    // A status that comes after messages, in the trailers.
    const streamed: string[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.ServerStream?.(
        { message: 'fail', count: 2 },
        metadata(bearer),
      ) as grpc.ClientReadableStream<EchoReply>;
      call.on('data', (reply: EchoReply) => streamed.push(reply.message));
      call.on('error', () => undefined);
      call.on('status', resolve);
    });
    expect(streamed).toEqual(['fail#0', 'fail#1']);
    expect(status).toMatchObject({ code: grpc.status.ABORTED, details: 'failed after messages' });
    expect(status.metadata.get('x-detail')).toEqual(['after-messages']);
  });

  it('cancels the upstream call when the client cancels', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const client = echoClient(hostPort(t.server.address));
    const bidi = client.Bidi?.(metadata(bearer)) as grpc.ClientDuplexStream<EchoRequest, EchoReply>;
    bidi.on('error', () => undefined);
    const first = new Promise((resolve) => bidi.once('data', resolve));
    bidi.write({ message: 'one' });
    await first;
    bidi.cancel();
    await expect.poll(() => upstream.cancelled).toEqual(['Bidi']);
  });

  it('answers UNAVAILABLE when the upstream cannot be reached, and goes on once it can', async () => {
    const upstream = await startEchoUpstream();
    await upstream.close();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const client = echoClient(hostPort(t.server.address));
    const error = await failure(unary(client, 'Unary', { message: 'x' }));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toBe('upstream unavailable');
  });

  it('says what is wrong when gRPC cannot be proxied: no upstream, an http:// upstream; and HTTP/1.1 to an h2c upstream', async () => {
    const none = await serveForTest({ authentication: config('h2c://x').authentication });
    const noUpstream = await failure(unary(echoClient(hostPort(none.server.address)), 'Unary', {}));
    expect(noUpstream.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(noUpstream.details).toMatch(/gateway\.upstream is not set/);

    const http1 = await serveForTest(config('http://127.0.0.1:9'));
    const http1Error = await failure(unary(echoClient(hostPort(http1.server.address)), 'Unary', {}));
    expect(http1Error.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(http1Error.details).toMatch(/use h2c:\/\/ or https:\/\//);

    const upstream = await startEchoUpstream();
    const h2c = await serveForTest(config(`h2c://${upstream.address}`));
    const answer = await h2c.fetch('/anything', { headers: bearer });
    expect(answer.status).toBe(501);
    expect(((await answer.json()) as { message: string }).message).toMatch(/only gRPC calls/);
    expect((await h2c.fetch('/anything')).status).toBe(401);
  });

  it('refuses HTTP/2 requests that are not gRPC with 505', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const session = connectHttp2(t.server.address);
    onTestFinished(() => session.close());
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/health' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
    expect(status).toBe(505);
    // A client that keeps its connection open does not hold the server's close for more than the grace.
    const started = Date.now();
    await t.server.close();
    expect(Date.now() - started).toBeLessThan(7_000);
  });

  it('rejects an upstream URL of another scheme, naming the three it takes', async () => {
    await expect(serveForTest(config('grpc://127.0.0.1:1'))).rejects.toThrow(
      /gateway\.upstream.*must be an absolute http:\/\/, https:\/\/ or h2c:\/\/ .*got "grpc:\/\/127\.0\.0\.1:1"/s,
    );
  });

  it('over TLS: gRPC clients get HTTP/2 by ALPN, browsers keep HTTP/1.1; an https upstream is reached over HTTP/2', async () => {
    const dir = tempDir();
    const ca = createTestCa(dir);
    const leaf = ca.issue(['localhost', '127.0.0.1']);
    const upstream = await startEchoUpstream(
      grpc.ServerCredentials.createSsl(null, [
        { cert_chain: Buffer.from(leaf.certPem), private_key: Buffer.from(leaf.keyPem) },
      ]),
    );
    // NODE_EXTRA_CA_CERTS is read at start: the gateway runs as its own process to trust the test CA.
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        server: {
          protocol: 'https',
          host: '127.0.0.1',
          https_port: 0,
          cert_file: leaf.certFile,
          cert_key: leaf.keyFile,
        },
        ...config(`https://localhost:${upstream.address.split(':')[1]}`),
      }),
    );
    const served = await startServe(file, { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
    onTestFinished(async () => {
      await served.stop();
    });
    const address = hostPort(served.address);
    const client = echoClient(address, grpc.credentials.createSsl(Buffer.from(ca.caPem)));
    const reply = await unary(client, 'Unary', { message: 'secure' });
    expect(reply.message).toBe('secure');
    expect(reply.metadata['x-forwarded-proto']).toBe('https');

    const negotiated = (protocols: string[]) =>
      new Promise<string | false | null>((resolve, reject) => {
        const socket = connectTls({
          host: '127.0.0.1',
          port: Number(address.split(':')[1]),
          ca: ca.caPem,
          servername: 'localhost',
          ALPNProtocols: protocols,
        });
        socket.on('secureConnect', () => {
          resolve(socket.alpnProtocol);
          socket.destroy();
        });
        socket.on('error', reject);
      });
    expect(await negotiated(['h2', 'http/1.1'])).toBe('http/1.1');
    expect(await negotiated(['h2'])).toBe('h2');
  });
  it('answers UNAVAILABLE with the store’s message when the session store is down, before the upstream', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.kill());
    const upstream = await startEchoUpstream();
    const t = await serveForTest({
      ...config(`h2c://${upstream.address}`),
      authentication: {
        required: true,
        session: {
          storage: { type: 'redis', redis: { host: redis.host, port: redis.port, net_timeout: '300ms' } },
        },
        methods: { token: { enabled: true } },
      },
    });
    const stored = await t.server.runtime.store.createAuthentication({
      method: 'METHOD_TOKEN',
      metadata: {},
    });
    const client = echoClient(hostPort(t.server.address));
    expect(
      (await unary(client, 'Unary', { message: 'up' }, { authorization: `Bearer ${stored.clientToken}` }))
        .message,
    ).toBe('up');
    await redis.kill();
    const http = await t.fetch('/anything', { headers: { authorization: `Bearer ${stored.clientToken}` } });
    expect(http.status).toBe(503);
    const error = await failure(
      unary(client, 'Unary', { message: 'down' }, { authorization: `Bearer ${stored.clientToken}` }),
    );
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toBe(((await http.json()) as { message: string }).message);
    expect(upstream.calls.map((call) => call.metadata['x-custom'] ?? call.method)).toEqual(['Unary']);
  });

  it('carries large messages and many calls at once, and survives oversized metadata and broken frames', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveForTest(config(`h2c://${upstream.address}`));
    const address = hostPort(t.server.address);
    const client = echoClient(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 8 * 1024 * 1024,
    });
    const big = 'x'.repeat(3 * 1024 * 1024);
    expect((await unary(client, 'Unary', { message: big })).message.length).toBe(big.length);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => unary(client, 'Unary', { message: `m${i}` })),
    );
    expect(answers.map((answer) => answer.message)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));

    // 100 KiB of metadata: over the HTTP/2 header list limits; refused, not proxied, not a crash.
    const oversized = await failure(
      unary(echoClient(address), 'Unary', { message: 'x' }, { ...bearer, 'x-big': 'y'.repeat(100 * 1024) }),
    );
    expect(oversized.code).not.toBe(grpc.status.OK);
    const [host, port] = address.split(':') as [string, string];
    for (const garbage of [
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff', 'latin1'),
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
        Buffer.alloc(64 * 1024, 0xab),
      ]),
      Buffer.alloc(64 * 1024, 0xab),
    ]) {
      await new Promise<void>((resolve) => {
        const socket = connectTcp(Number(port), host, () => socket.end(garbage));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    }
    expect((await unary(echoClient(address), 'Unary', { message: 'still here' })).message).toBe('still here');
    expect((await t.fetch('/health')).status).toBe(200);
    expect(upstream.calls.filter((call) => call.metadata['x-big'] !== undefined)).toEqual([]);
  });

  it('a reload leaves a stream under way on its configuration and applies to the next calls', async () => {
    const upstream = await startEchoUpstream();
    const t = await serveReloadable(`h2c://${upstream.address}`, TOKEN);
    const client = echoClient(hostPort(t.server.address));
    const bidi = client.Bidi?.(metadata(bearer)) as grpc.ClientDuplexStream<EchoRequest, EchoReply>;
    const next = () => new Promise<EchoReply>((resolve) => bidi.once('data', resolve));
    let answer = next();
    bidi.write({ message: 'before' });
    expect((await answer).message).toBe('echo:before');
    t.write('rotated-secret');
    expect(await t.server.reload()).toBe(true);
    answer = next();
    bidi.write({ message: 'after' });
    expect((await answer).message).toBe('echo:after');
    bidi.end();
    await new Promise((resolve) => bidi.on('status', resolve));
    expect((await failure(unary(client, 'Unary', { message: 'old' }))).code).toBe(
      grpc.status.UNAUTHENTICATED,
    );
    expect(
      (await unary(client, 'Unary', { message: 'new' }, { authorization: 'Bearer rotated-secret' })).message,
    ).toBe('new');
  });
});
