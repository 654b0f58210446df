/**
 * Issue 19, a fresh reviewer's findings: each `it` is a bug found by hand against the gRPC support, failing on the
 * code as reviewed and passing since its fix (kept as regressions).
 */
import {
  connect as connectHttp2,
  constants,
  createServer as createHttp2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { signingKey, startTestProvider } from '../test-support/openid-provider.ts';
import { serveForTest } from '../test-support/server.ts';
import { unaryCall as call, fliptAuthClient } from './client-harness.ts';

const TOKEN = 'breaker-secret';
const bearer = { authorization: `Bearer ${TOKEN}` };
const gatewayConfig = (upstream: string, extra: Record<string, unknown> = {}) => ({
  authentication: {
    required: true,
    methods: { token: { enabled: true, storage: { tokens: { ci: { credential: TOKEN } } } } },
    ...extra,
  },
  gateway: { upstream },
});

/** One gRPC message frame (uncompressed) holding `bytes`. */
const frame = (bytes: Buffer) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
};

/**
 * A cleartext HTTP/2 upstream whose streams `behave` decides; every request's headers are kept. Closed when the test
 * ends.
 */
async function rawUpstream(behave: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void) {
  const seen: IncomingHttpHeaders[] = [];
  const sessions = new Set<Http2Session>();
  const counts = { sessions: 0 };
  const server = createHttp2Server();
  server.on('session', (session) => {
    counts.sessions++;
    sessions.add(session);
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    seen.push(headers);
    behave(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => {
    for (const session of sessions) session.destroy();
    server.close();
  });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen, counts };
}

/** A generic grpc-js client of `address` (identity (de)serialisers), closed when the test ends. */
function rawClient(address: string, options: grpc.ChannelOptions = {}): grpc.Client {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), options);
  onTestFinished(() => client.close());
  return client;
}

const metadataOf = (pairs: Record<string, string>) => {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(pairs)) metadata.set(key, value);
  return metadata;
};

/** A server-streaming call through `client`; resolves to its final status and how many messages came. */
function serverStream(
  client: grpc.Client,
  path: string,
  pairs: Record<string, string>,
  options: grpc.CallOptions = {},
): Promise<{ code: number; details: string; messages: number }> {
  const identity = (value: Buffer) => value;
  return new Promise((resolve) => {
    let messages = 0;
    const stream = client.makeServerStreamRequest(
      path,
      identity,
      identity,
      Buffer.alloc(0),
      metadataOf(pairs),
      options,
    );
    stream.on('data', () => messages++);
    stream.on('error', () => undefined);
    stream.on('status', (status) => resolve({ code: status.code, details: status.details, messages }));
  });
}

/** A raw HTTP/2 request to `origin`; resolves to the response headers, trailers and the stream's reset code. */
function rawRequest(origin: string, headers: OutgoingHttpHeaders, body = frame(Buffer.alloc(0))) {
  return new Promise<{ headers?: IncomingHttpHeaders; trailers?: IncomingHttpHeaders; rstCode?: number }>(
    (resolve) => {
      const session = connectHttp2(origin);
      session.on('error', () => undefined);
      const stream = session.request({
        ':method': 'POST',
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      });
      const seen: { headers?: IncomingHttpHeaders; trailers?: IncomingHttpHeaders; rstCode?: number } = {};
      stream.on('response', (answer) => {
        seen.headers = answer;
      });
      stream.on('trailers', (trailers) => {
        seen.trailers = trailers;
      });
      stream.on('error', () => undefined);
      stream.resume();
      stream.on('close', () => {
        seen.rstCode = stream.rstCode;
        session.close();
        resolve(seen);
      });
      stream.end(body);
    },
  );
}

describe('issue 19, breaking: the gateway for gRPC upstreams', () => {
  it('passes an upstream’s reset after answering on as that reset (not as the client’s own cancel)', async () => {
    // README: "... with the upstream's headers, trailers (...) and resets passed back".
    const upstream = await rawUpstream((stream) => {
      // As a server that means to end with trailers, then fails (waitForTrailers: its stream stays open).
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.write(frame(Buffer.from('one')));
      setTimeout(() => stream.close(constants.NGHTTP2_INTERNAL_ERROR), 200);
    });
    const direct = await serverStream(rawClient(upstream.address), '/x.Svc/Stream', {});
    expect(direct.code).toBe(grpc.status.INTERNAL);
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const viaGateway = await serverStream(rawClient(new URL(t.server.address).host), '/x.Svc/Stream', bearer);
    expect(viaGateway.messages).toBe(1);
    // Seen: CANCELLED "Call cancelled" (the gateway resets the client's stream with CANCEL, whatever the code).
    expect(viaGateway.code).toBe(direct.code);
  });

  it('an upstream connection that drops mid-stream is not reported to the client as its own cancel', async () => {
    const upstream = await rawUpstream((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.write(frame(Buffer.from('first')));
      setTimeout(() => stream.session?.destroy(), 200);
    });
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const viaGateway = await serverStream(rawClient(new URL(t.server.address).host), '/x.Svc/Stream', bearer);
    expect(viaGateway.messages).toBe(1);
    // Directly, grpc-js says UNAVAILABLE "Connection dropped"; through the gateway: CANCELLED "Call cancelled".
    expect(viaGateway.code).not.toBe(grpc.status.CANCELLED);
  });

  it('bounds the concurrent streams a client may open on the HTTP port (SETTINGS_MAX_CONCURRENT_STREAMS)', async () => {
    const upstream = await rawUpstream(() => undefined);
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const session = connectHttp2(t.server.address);
    onTestFinished(() => session.destroy());
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) =>
      session.once('remoteSettings', resolve),
    );
    // Seen: 4294967295 (Node's default: no bound). Go's HTTP/2 server says 250, gRPC's guidance 100.
    expect(settings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(1000);
  });

  it('one client opening very many streams does not fail other clients’ calls in flight', async () => {
    // An upstream that takes every call and never answers (a long poll, or just slow).
    const upstream = await rawUpstream((stream) => stream.resume());
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const address = new URL(t.server.address).host;
    // The victim: one call with a 4 s deadline, under way before the flood.
    const victim = serverStream(rawClient(address), '/x.Svc/Victim', bearer, {
      deadline: Date.now() + 4_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The flood: 20 000 streams on one connection, with a valid credential.
    const flood = connectHttp2(t.server.address);
    flood.on('error', () => undefined);
    onTestFinished(() => flood.destroy());
    for (let i = 0; i < 20_000; i++) {
      const stream = flood.request({
        ':method': 'POST',
        ':path': '/x.Svc/Flood',
        'content-type': 'application/grpc',
        te: 'trailers',
        ...bearer,
      });
      stream.on('error', () => undefined);
      stream.end(frame(Buffer.alloc(0)));
    }
    const { code, details } = await victim;
    // Seen: UNAVAILABLE "upstream unavailable" after a few seconds: the one upstream connection every client
    // shares failed ("Session closed with error code 2"), taking the victim's call with it.
    expect({ code, details }).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
  }, 30_000);

  it('forwards a call with the method it was judged with (a GET is not judged as GET and sent as POST)', async () => {
    // With cross-origin protection on, a cross-site GET is "safe" and passes the check; the upstream then gets a
    // POST it would have refused. (No browser speaks h2 here today, but the judge and the request must agree.)
    const upstream = await rawUpstream((stream) => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' },
        { endStream: true },
      );
    });
    const t = await serveForTest(
      gatewayConfig(`h2c://${upstream.address}`, { session: { csrf: { key: 'breaker-csrf-key' } } }),
    );
    const crossSite = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', ...bearer };
    const post = await rawRequest(t.server.address, { ':path': '/x.Svc/Post', ...crossSite });
    expect(post.headers?.['grpc-status']).toBe('7');
    const get = await rawRequest(t.server.address, { ':method': 'GET', ':path': '/x.Svc/Get', ...crossSite });
    const reached = upstream.seen.find((headers) => headers[':path'] === '/x.Svc/Get');
    // Seen: the upstream got ':method: POST' for the GET the cross-origin check let through as safe.
    if (reached !== undefined) expect(reached[':method']).toBe('GET');
    else expect(get.headers?.['grpc-status']).not.toBe('0');
  });

  it('takes the in-process gRPC mark header off calls it forwards (no upstream sees it)', async () => {
    // core/http/cookies.ts: the onRequest hook "takes it off every request (so that no route, plugin or upstream
    // sees it)"; the HTTP/2 gateway does not go through that hook.
    const upstream = await rawUpstream((stream) => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' },
        { endStream: true },
      );
    });
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    await rawRequest(t.server.address, {
      ':path': '/x.Svc/U',
      'x-portcullis-grpc-call': 'anything',
      ...bearer,
    });
    expect(upstream.seen).toHaveLength(1);
    expect(upstream.seen[0]?.['x-portcullis-grpc-call']).toBeUndefined();
  });

  it('logs an h2c:// upstream that fails by its address, not "null"', async () => {
    const t = await serveForTest(gatewayConfig('h2c://127.0.0.1:1'));
    const answer = await rawRequest(t.server.address, { ':path': '/x.Svc/U', ...bearer });
    expect(answer.headers?.['grpc-status']).toBe('14');
    const failures = t.logs.filter((line) => String(line.msg).includes('upstream'));
    expect(failures.length).toBeGreaterThan(0);
    // Seen: "upstream":"null" (new URL('h2c://…').origin is "null" for a scheme URL does not know).
    for (const line of failures) expect(line.upstream).not.toBe('null');
  });

  it('many calls arriving while the upstream connection opens raise no MaxListenersExceededWarning', async () => {
    const upstream = await rawUpstream((stream) => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' },
        { endStream: true },
      );
    });
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const session = connectHttp2(t.server.address);
    session.on('error', () => undefined);
    onTestFinished(() => session.destroy());
    await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          new Promise<void>((resolve) => {
            const stream = session.request({
              ':method': 'POST',
              ':path': '/x.Svc/U',
              'content-type': 'application/grpc',
              te: 'trailers',
              ...bearer,
            });
            stream.on('error', () => resolve());
            stream.resume();
            stream.on('close', () => resolve());
            stream.end(frame(Buffer.alloc(0)));
          }),
      ),
    );
    await new Promise((resolve) => setImmediate(resolve));
    // Seen: "Possible EventEmitter memory leak detected. 11 connect listeners added to [ClientHttp2Session]".
    expect(warnings.filter((warning) => warning.includes('MaxListenersExceeded'))).toEqual([]);
  });
});

describe('issue 19, breaking: HTTP/1.1 on the HTTP port', () => {
  it('a gRPC call over HTTP/1.1 to an h2c:// upstream is the documented 501, not a 415', async () => {
    // README, gRPC upstreams: "an HTTP/1.1 request to an h2c:// upstream a 501". Any other content type gets it
    // (with a message naming the cause); content-type application/grpc itself gets Fastify's 415.
    const upstream = await rawUpstream(() => undefined);
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const plain = await t.fetch('/x.Svc/U', {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(plain.status).toBe(501);
    const grpcOverHttp1 = await t.fetch('/x.Svc/U', {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/grpc' },
      body: frame(Buffer.alloc(0)),
    });
    // Seen: 415 {"code":3,"message":"Unsupported Media Type"}.
    expect({ status: grpcOverHttp1.status, body: await grpcOverHttp1.json() }).toMatchObject({
      status: 501,
      body: { code: 12 },
    });
    expect(upstream.seen).toEqual([]);
  });
});

describe('issue 19, breaking: the flipt.auth services', () => {
  it('ExpireAuthenticationSelf without a time expires the caller at once (the next call is refused)', async () => {
    // Flaky in auth-services.test.ts ("ExpireAuthenticationSelf expires the caller"): the expiry is stored to the
    // millisecond and checked with `<`, so a call in the same millisecond still passes (Flipt compares nanoseconds).
    const t = await serveForTest(gatewayConfig('h2c://127.0.0.1:1'));
    const auth = fliptAuthClient(t.server.grpcAddress, 'AuthenticationService');
    let stillValid = 0;
    for (let i = 0; i < 100; i++) {
      const { clientToken } = await t.server.runtime.store.createAuthentication({
        method: 'METHOD_TOKEN',
        metadata: {},
      });
      const credential = { authorization: `Bearer ${clientToken}` };
      expect((await call(auth, 'ExpireAuthenticationSelf', {}, credential)).ok).toBe(true);
      if ((await call(auth, 'GetAuthenticationSelf', {}, credential)).ok) stillValid++;
    }
    expect(stillValid).toBe(0);
  }, 30_000);

  it('an OIDC provider named "." or ".." is an unknown provider, not a route elsewhere', async () => {
    // The provider is put into the route's path; inject resolves dot segments, so "/auth/v1/method/oidc/../authorize"
    // is "/auth/v1/method/authorize" (404 "Not Found"), where any other unknown name is INVALID_ARGUMENT.
    const site = 'http://localhost:9';
    const op = await startTestProvider({
      keys: [await signingKey('key-1')],
      clients: [
        {
          client_id: 'c',
          client_secret: 's',
          redirect_uris: [`${site}/auth/v1/method/oidc/google/callback`],
        },
      ],
      accounts: {},
    });
    onTestFinished(() => op.close());
    const t = await serveForTest({
      authentication: {
        required: true,
        session: { domain: 'localhost' },
        methods: {
          oidc: {
            enabled: true,
            providers: {
              google: { issuer_url: op.issuer, client_id: 'c', client_secret: 's', redirect_address: site },
            },
          },
        },
      },
    });
    const oidc = fliptAuthClient(t.server.grpcAddress, 'AuthenticationMethodOIDCService');
    const unknown = await call(oidc, 'AuthorizeURL', { provider: 'nope', state: 's' });
    expect(unknown).toEqual({
      ok: false,
      code: grpc.status.INVALID_ARGUMENT,
      details: 'authorize: unknown provider',
    });
    for (const provider of ['.', '..']) {
      expect(await call(oidc, 'AuthorizeURL', { provider, state: 's' })).toEqual(unknown);
    }
  });
});

const identityCodec = (value: Buffer) => value;

function unary(client: grpc.Client, path: string, pairs: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identityCodec, identityCodec, Buffer.alloc(0), metadataOf(pairs), (error) =>
      resolve(error ? error.code : 0),
    );
  });
}

/** A bidi call that sends one message and does not half-close; resolves to its status. */
function bidiOpen(client: grpc.Client, path: string, pairs: Record<string, string>) {
  return new Promise<{ code: number; details: string; messages: number }>((resolve) => {
    let messages = 0;
    const stream = client.makeBidiStreamRequest(path, identityCodec, identityCodec, metadataOf(pairs));
    stream.on('data', () => messages++);
    stream.on('error', () => undefined);
    stream.on('status', (status) => resolve({ code: status.code, details: status.details, messages }));
    stream.write(Buffer.from('a'));
  });
}

describe('issue 19, final check (a second fresh reviewer): the gateway for gRPC upstreams', () => {
  it('does not open a new upstream connection for every call once 100 calls are in flight', async () => {
    // README: "up to 100 calls share a connection, more open more". With 100 long calls under way, each further
    // call opens a connection, and closes it when it ends (release(): idle and not the last one), so the next
    // opens another: seen 564 new connections for 564 sequential calls in one second (a TLS handshake each for an
    // https:// upstream, a TIME_WAIT socket each).
    const upstream = await rawUpstream((stream, headers) => {
      stream.resume();
      const answer = () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame(Buffer.alloc(0)));
      };
      if (headers[':path'] === '/x.Svc/Slow') setTimeout(answer, 3_000);
      else answer();
    });
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const address = new URL(t.server.address).host;
    const slow = rawClient(address);
    const quick = rawClient(address, { 'grpc.use_local_subchannel_pool': 1 });
    expect(await unary(quick, '/x.Svc/Quick', bearer)).toBe(0);
    const longCalls = Array.from({ length: 100 }, () => unary(slow, '/x.Svc/Slow', bearer));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = upstream.counts.sessions;
    for (let i = 0; i < 50; i++) expect(await unary(quick, '/x.Svc/Quick', bearer)).toBe(0);
    const opened = upstream.counts.sessions - before;
    await Promise.all(longCalls);
    // One more connection (or a few) would do; seen: 50.
    expect(opened).toBeLessThanOrEqual(5);
  }, 30_000);

  it('passes an upstream’s RST_STREAM CANCEL after answering on as the client would see it directly', async () => {
    // README: "resets (with their code) passed back". REFUSED_STREAM and ENHANCE_YOUR_CALM are; CANCEL,
    // INTERNAL_ERROR and PROTOCOL_ERROR (when the upstream had not used waitForTrailers) are not: the gateway ends
    // the client's stream with its own trailers grpc-status 13 "upstream sent no status". For INTERNAL_ERROR and
    // PROTOCOL_ERROR the code is still grpc-js's (13); for CANCEL a direct grpc-js client says CANCELLED.
    const upstream = await rawUpstream((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(frame(Buffer.from('x')));
      stream.resume();
      setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), 100);
    });
    const direct = await bidiOpen(rawClient(upstream.address), '/x.Svc/Bidi', {});
    expect(direct.code).toBe(grpc.status.CANCELLED);
    const t = await serveForTest(gatewayConfig(`h2c://${upstream.address}`));
    const viaGateway = await bidiOpen(rawClient(new URL(t.server.address).host), '/x.Svc/Bidi', bearer);
    expect(viaGateway.messages).toBe(1);
    // Seen: { code: 13, details: 'upstream sent no status' }.
    expect(viaGateway.code).toBe(direct.code);
  });
});
