/**
 * One server for one benchmark scenario, in its own process (the load comes from another):
 *
 *   node --experimental-strip-types bench/server.ts baseline
 *   node --experimental-strip-types bench/server.ts portcullis '<config as JSON>'
 *   node --experimental-strip-types bench/server.ts upstream
 *   node --experimental-strip-types bench/server.ts gateway '<config as JSON>'
 *
 * `baseline` is bare Fastify answering `GET /api/v1/flags`; `portcullis` is the same application with the
 * portcullis plugin registered (built code from `dist/`), so the difference is the cost of authentication;
 * `upstream` is a bare `node:http` service, and `gateway` is `portcullis serve` in front of one. Each prints one JSON line once it listens:
 * `{"port": ..., "token": ...}` (`token`: a client token created in the store, for the store scenarios).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';

// The built code, as `npm start` runs it (with its precompiled validator); `npm run bench` builds first.
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
} else if (kind === 'upstream') {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(FLAGS);
  });
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as AddressInfo).port }));
} else {
  const app = Fastify({ http: { maxHeaderSize: 96 * 1024 } });
  let token: string | undefined;
  if (kind === 'portcullis') {
    const runtime = await createRuntime({
      object: JSON.parse(configJson) as Record<string, unknown>,
      env: {},
    });
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
