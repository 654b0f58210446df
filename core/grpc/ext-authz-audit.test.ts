import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { expect, it, onTestFinished } from 'vitest';
import { serveForTest } from '../test-support/server.ts';
import { tempDir } from '../test-support/tmp.ts';

/** An ext_authz refusal's audit event names the client (a fresh review of issue 20 found it named none). */
it('records the caller’s address (the call’s peer at least) in an ext_authz refusal’s event', async () => {
  const file = join(tempDir(), 'audit.log');
  const t = await serveForTest({
    authentication: {
      required: true,
      methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
    },
    audit: { sinks: { log: { enabled: true, file } } },
  });
  const loaded = grpc.loadPackageDefinition(
    protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
      defaults: true,
      oneofs: true,
      includeDirs: [fileURLToPath(new URL('./proto/', import.meta.url))],
    }),
  ) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };
  const client = new loaded.envoy.service.auth.v3.Authorization(
    t.server.grpcAddress,
    grpc.credentials.createInsecure(),
  );
  onTestFinished(() => client.close());
  const check = (attributes: object) =>
    new Promise((resolve, reject) =>
      (client as unknown as Record<string, (...args: unknown[]) => void>).Check?.(
        { attributes },
        (error: unknown, value: unknown) => (error ? reject(error) : resolve(value)),
      ),
    );
  const request = { http: { method: 'GET', host: 'app.example', path: '/x', headers: {} } };
  await check({ request });
  // Envoy names the downstream client: that is the actor, not Envoy.
  await check({
    source: { address: { socketAddress: { address: '203.0.113.9', portValue: 4711 } } },
    request,
  });
  await t.server.close();
  const [event, named] = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(event).toMatchObject({ type: 'authentication', action: 'refused' });
  expect(event.metadata.actor.ip).toBe('127.0.0.1');
  expect(named.metadata.actor.ip).toBe('203.0.113.9');
});
