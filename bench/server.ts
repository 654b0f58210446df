/**
 * One server for one benchmark scenario, in its own process (the load comes from another):
 *
 *   node --experimental-strip-types bench/server.ts baseline
 *   node --experimental-strip-types bench/server.ts portcullis '<config as JSON>'
 *   node --experimental-strip-types bench/server.ts portcullis-uncounted '<config as JSON>'
 *   node --experimental-strip-types bench/server.ts upstream
 *   node --experimental-strip-types bench/server.ts gateway '<config as JSON>'
 *   node --experimental-strip-types bench/server.ts grpc-upstream
 *   node --experimental-strip-types bench/server.ts grpc-forwarder '{"upstream": "host:port"}'
 *   node --experimental-strip-types bench/server.ts bare-proxy '{"upstream": "http://host:port"}'
 *   node --experimental-strip-types bench/server.ts bearer-auth | passport-bearer '{"keys": [...]}'
 *   node --experimental-strip-types bench/server.ts fastify-jwt '{"publicKeyFile", "alg", "cache", "scheme"}'
 *
 * `baseline` is bare Fastify answering `GET /api/v1/flags`; `portcullis` is the same application with the
 * portcullis plugin registered (built code from `dist/`), so the difference is the cost of authentication
 * (`portcullis-uncounted`: with its decisions not counted in `/metrics`, to measure what counting costs);
 * `upstream` is a bare `node:http` service, and `gateway` is `portcullis serve` in front of one (or of a gRPC
 * upstream: `gateway.upstream: h2c://…`); `grpc-upstream` is a bare grpc-js server of `portcullis.test.Echo`
 * (`core/test-support/echo.proto`) whose `Unary` answers the same JSON as text, and, asked with `count: 1`, the
 * metadata it received (so that the load can check once that a call went through the gateway's authentication);
 * `grpc-forwarder` is the least a gRPC proxy does, to measure the gateway against: a bare `node:http2` server that
 * forwards each call over one HTTP/2 connection to `upstream` and passes back the answer's headers, messages and
 * trailers, with no authentication, no identity metadata and no error handling beyond what a bench needs;
 * `bare-proxy` is the HTTP counterpart, Fastify with undici's pool in front of `upstream`; `bearer-auth`,
 * `passport-bearer` and `fastify-jwt` are the peers (the same application with `@fastify/bearer-auth`, Passport's
 * bearer strategy, `@fastify/jwt`).
 * Each prints one JSON line once it listens:
 * `{"port": ..., "token": ...}` (`token`: a client token created in the store, for the store scenarios).
 */
import { createServer } from 'node:http';
import {
  connect,
  constants,
  createServer as createHttp2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { echoService } from './echo.ts';

// The built code, as `npm start` runs it (with its precompiled validator); `npm run bench` builds first. Every kind
// loads it, so every kind keeps a tick object alive (core/tick-shape.ts): the peers and the baseline too, so that the
// rows do not depend on which process drew V8's slow nextTick (bench/README.md).
const { createRuntime, portcullis, startServer } = (await import(
  new URL('../dist/index.js', import.meta.url).href
)) as typeof import('../index.ts');

/** What every protected route answers, and the baseline too. */
const FLAGS = JSON.stringify({
  flags: [
    { key: 'new-checkout', enabled: true, type: 'BOOLEAN_FLAG_TYPE' },
    { key: 'dark-mode', enabled: false, type: 'BOOLEAN_FLAG_TYPE' },
  ],
});

const [kind = 'baseline', configJson = '{}'] = process.argv.slice(2);
const ready = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(fields)}\n`);

if (kind === 'gateway') {
  // portcullis serve, as deployed in front of a service (the configuration names the upstream).
  const server = await startServer({ object: JSON.parse(configJson) as Record<string, unknown>, env: {} });
  ready({ port: Number(new URL(server.address).port) });
} else if (kind === 'grpc-upstream') {
  const server = new grpc.Server();
  // Only Unary is called; the service's other methods are left unimplemented (UNIMPLEMENTED if called).
  server.addService(echoService, {
    Unary(call: grpc.ServerUnaryCall<{ count: number }, unknown>, done: grpc.sendUnaryData<unknown>) {
      const metadata = call.request.count === 1 ? call.metadata.getMap() : {};
      done(null, { message: FLAGS, metadata });
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    ready({ port });
  });
} else if (kind === 'grpc-forwarder') {
  const { upstream } = JSON.parse(configJson) as { upstream: string };
  const session = connect(`http://${upstream}`);
  const withoutPseudo = (headers: IncomingHttpHeaders) => {
    const kept: OutgoingHttpHeaders = {};
    for (const name in headers) if (name[0] !== ':') kept[name] = headers[name];
    return kept;
  };
  const server = createHttp2Server();
  server.on('stream', (stream, headers) => {
    const call = session.request({ ...withoutPseudo(headers), ':method': 'POST', ':path': headers[':path'] });
    let trailers: OutgoingHttpHeaders = { 'grpc-status': '13' };
    call.on('response', (answer, flags) => {
      const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      stream.respond(
        { ...withoutPseudo(answer), ':status': answer[':status'] },
        { endStream, waitForTrailers: !endStream },
      );
      if (!endStream) call.pipe(stream);
    });
    call.on('trailers', (received) => {
      trailers = withoutPseudo(received);
    });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.pipe(call);
  });
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as AddressInfo).port }));
} else if (kind === 'upstream') {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(FLAGS);
  });
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as AddressInfo).port }));
} else if (kind === 'bare-proxy') {
  // The least a Node reverse proxy does, to hold the gateway against: Fastify and undici's pool, streaming each
  // request's body up and the answer's straight back (undici's `stream`), without the hop-by-hop headers; no
  // authentication, no identity or forwarded headers, no timeouts or error answers beyond what a bench needs.
  const { Pool } = await import('undici');
  const { upstream } = JSON.parse(configJson) as { upstream: string };
  const pool = new Pool(upstream, { connections: null });
  const host = new URL(upstream).host;
  const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te']);
  const endToEnd = (headers: Record<string, string | string[] | undefined>) => {
    const kept: Record<string, string | string[]> = {};
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined && !HOP.has(name)) kept[name] = value;
    }
    return kept;
  };
  const app = Fastify({ http: { maxHeaderSize: 96 * 1024 } });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  const forward = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    const response = reply.raw;
    pool.stream(
      {
        method: request.method as 'GET',
        path: request.url,
        headers: { ...endToEnd(request.headers), host },
        body: request.body instanceof Readable ? request.body : null,
      },
      ({ statusCode, headers }) => {
        response.writeHead(statusCode, endToEnd(headers));
        return response;
      },
      (error) => {
        if (error !== null) response.destroy(error);
      },
    );
  };
  app.all('/', forward);
  app.all('/*', forward);
  await app.listen({ host: '127.0.0.1', port: 0 });
  ready({ port: (app.server.address() as AddressInfo).port });
} else if (kind === 'bearer-auth' || kind === 'fastify-jwt' || kind === 'passport-bearer') {
  // The peers: what a user would pick instead of portcullis for the same check, on the same Fastify application.
  const app = Fastify({ http: { maxHeaderSize: 96 * 1024 } });
  const peer = JSON.parse(configJson) as {
    keys?: string[];
    publicKeyFile?: string;
    alg?: string;
    cache?: boolean;
    scheme?: string;
  };
  if (kind === 'bearer-auth') {
    const { default: bearerAuth } = await import('@fastify/bearer-auth');
    await app.register(bearerAuth, { keys: new Set(peer.keys ?? []) });
  } else if (kind === 'fastify-jwt') {
    const { readFileSync } = await import('node:fs');
    const { default: fastifyJwt } = await import('@fastify/jwt');
    const scheme = `${peer.scheme ?? 'Bearer'} `;
    await app.register(fastifyJwt, {
      secret: { public: readFileSync(peer.publicKeyFile as string, 'utf8') },
      verify: {
        algorithms: [peer.alg as never],
        cache: peer.cache === true,
        // The scenario's requests carry `Authorization: JWT <token>`, as portcullis's jwt method reads them.
        extractToken: (request) => {
          const header = request.headers.authorization ?? '';
          return header.startsWith(scheme) ? header.slice(scheme.length) : undefined;
        },
      },
    });
    app.addHook('onRequest', async (request) => {
      await request.jwtVerify();
    });
  } else {
    // Passport's bearer strategy (passport-http-bearer) against tokens kept in memory by their SHA-256, as a store
    // keeps them; Passport's middleware run on Node's request, as Express would.
    const { createHash } = await import('node:crypto');
    const { default: passport } = await import('passport');
    const { Strategy: BearerStrategy } = await import('passport-http-bearer');
    const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
    const known = new Map((peer.keys ?? []).map((key) => [hash(key), { id: 'bench' }]));
    passport.use(new BearerStrategy((token, done) => done(null, known.get(hash(token)) ?? false)));
    app.addHook('onRequest', (request, reply, next) => {
      passport.authenticate('bearer', { session: false }, (error: unknown, user: unknown) => {
        if (error) return next(error as Error);
        if (!user) return void reply.code(401).send({ message: 'Unauthorized' });
        next();
      })(request.raw, reply.raw, next);
    });
  }
  app.get('/api/v1/flags', async (_request, reply) => reply.type('application/json').send(FLAGS));
  await app.listen({ host: '127.0.0.1', port: 0 });
  ready({ port: (app.server.address() as AddressInfo).port });
} else {
  const app = Fastify({ http: { maxHeaderSize: 96 * 1024 } });
  let token: string | undefined;
  if (kind === 'portcullis' || kind === 'portcullis-uncounted') {
    const runtime = await createRuntime({
      object: JSON.parse(configJson) as Record<string, unknown>,
      env: {},
    });
    // What metrics cost scenario (1): the same server with its decisions not counted (bench only).
    if (kind === 'portcullis-uncounted') runtime.metrics.decision = () => undefined;
    // A token made through the store, as POST /auth/v1/method/token makes them (the store scenarios use it).
    token = (
      await runtime.store.createAuthentication({
        method: 'METHOD_TOKEN',
        metadata: { 'io.flipt.auth.token.name': 'bench' },
      })
    ).clientToken;
    await app.register(portcullis, { runtime });
    app.addHook('onClose', () => runtime.close());
  }
  app.get('/api/v1/flags', async (_request, reply) => reply.type('application/json').send(FLAGS));
  await app.listen({ host: '127.0.0.1', port: 0 });
  ready({ port: (app.server.address() as AddressInfo).port, ...(token !== undefined && { token }) });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
