import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { everyMethodAuthentication } from './test-support/every-method.ts';
import { cluster } from './test-support/kubernetes-cluster.ts';
import { namesLoaded, runRecordingModules } from './test-support/modules.ts';

/**
 * What start-up leaves to the first use (issue 21), as paths of the modules each loads: `serve` must not load them
 * before it answers, or its start-up is slow again without any test saying so.
 */
const LAZY = {
  // The gRPC services: the first connection to server.grpc_port (core/grpc/server.ts).
  grpc: ['/node_modules/@grpc/grpc-js/', '/node_modules/@grpc/proto-loader/', '/node_modules/protobufjs/'],
  // The registry: the first scrape (core/observe/metrics.ts).
  'prom-client': ['/node_modules/prom-client/', '/node_modules/@opentelemetry/api/'],
  // Key sets: the first JWKS fetched (core/auth/jwks.ts). jose's own jwtVerify only for a key node:crypto cannot
  // take (core/auth/jws-verify.ts), so not for these tokens; jose's index never.
  'jose key sets': ['/node_modules/jose/dist/webapi/jwks/local.js'],
  'jose verification': ['/node_modules/jose/dist/webapi/jwt/verify.js'],
  'jose index': ['/node_modules/jose/dist/webapi/index.js'],
  // The first OIDC discovery or login (plugins/oidc/provider.ts, routes).
  'openid-client': ['/node_modules/openid-client/', '/node_modules/oauth4webapi/'],
  // Only for email_matches patterns (plugins/oidc/email.ts).
  re2js: ['/node_modules/re2js/'],
  // A plugin's fetch takes two of undici's modules, never its index (core/plugins/fetch.ts).
  'undici index': ['/node_modules/undici/index.js'],
  // Fastify's compilers: the first route with a schema (core/http/app.ts).
  'Fastify compilers': [
    '/node_modules/@fastify/ajv-compiler/',
    '/node_modules/@fastify/fast-json-stringify-compiler/',
    '/node_modules/ajv/dist/ajv.js',
  ],
} as const;

const loaded = (urls: readonly string[]) => namesLoaded(urls, LAZY);

describe('start-up with every built-in method', () => {
  it('loads none of what the first requests need, and each comes with its first use', async () => {
    const k8s = await cluster();
    const serviceAccountToken = await k8s.serviceAccountToken();
    const config = {
      server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
      authentication: everyMethodAuthentication('lazy-start-token-4f', k8s.config),
    };
    // The built server, as `portcullis serve` runs it (npm test builds first): run from the sources, config
    // validation compiles its schema with ajv, where dist/ has it compiled at build time.
    const entry = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    // __resolved is the recorder's (runRecordingModules): every module resolved so far.
    const { stdout } = await runRecordingModules(`
      const { connect } = await import('node:http2');
      const { startServer } = await import(${JSON.stringify(entry)});
      const server = await startServer({ object: ${JSON.stringify(config)}, env: {}, logDestination: { write() {} } });
      const seen = { start: [...__resolved] };
      // grpc-js answers an HTTP/2 connection's preface with its SETTINGS once it is loaded.
      await new Promise((resolve, reject) => {
        const session = connect('http://' + server.grpcAddress);
        session.once('remoteSettings', () => session.close(resolve));
        session.once('error', reject);
      });
      seen.grpc = [...__resolved];
      const scrape = await fetch(server.address + '/metrics');
      await scrape.text();
      seen.scrape = [...__resolved];
      const self = await fetch(server.address + '/auth/v1/self', {
        headers: { authorization: 'JWT ${serviceAccountToken}' },
      });
      seen.jwt = [...__resolved];
      await server.close();
      process.stdout.write(JSON.stringify({ seen, statuses: [scrape.status, self.status] }));
    `);
    const { seen, statuses } = JSON.parse(stdout) as {
      seen: Record<'start' | 'grpc' | 'scrape' | 'jwt', string[]>;
      statuses: number[];
    };
    expect(statuses).toEqual([200, 200]);
    // The recorder works: the server's own dependencies are seen.
    expect(seen.start.some((url) => url.includes('/node_modules/fastify/'))).toBe(true);
    expect(loaded(seen.start)).toEqual([]);
    expect(loaded(seen.grpc)).toEqual(['grpc']);
    expect(loaded(seen.scrape)).toEqual(['grpc', 'prom-client']);
    expect(loaded(seen.jwt)).toEqual(['grpc', 'prom-client', 'jose key sets']);
  });
});
