import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsFake } from '../secrets/aws/fake.ts';
import { startAzureFake } from '../secrets/azure/fake.ts';
import { startGcpFake } from '../secrets/gcp/fake.ts';
import { startVaultFake } from '../secrets/vault/fake.ts';
import { namesLoaded, runRecordingModules } from './test-support/modules.ts';
import type { SecretStoreFake } from './test-support/secret-store-fake.ts';
import { tempFiles } from './test-support/tmp.ts';

/** Each cloud store's SDK, as the package names that appear in the paths of the modules it loads. */
const SDKS = {
  vault: ['/node_modules/node-vault/'],
  aws: ['/node_modules/@aws-sdk/client-secrets-manager/'],
  gcp: ['/node_modules/@google-cloud/secret-manager/', '/node_modules/google-gax/'],
  azure: ['/node_modules/@azure/keyvault-secrets/', '/node_modules/@azure/identity/'],
} as const;

/**
 * Starts `serve` (startServer) in a fresh Node process whose module loader records every module resolved (import
 * and require alike), serves one request, closes, and returns what was loaded.
 */
async function modulesLoadedServing(config: object, env: Record<string, string>): Promise<string[]> {
  const entry = pathToFileURL(join(import.meta.dirname, '..', 'index.ts')).href;
  const { stdout, resolved } = await runRecordingModules(
    `
    const { startServer } = await import(${JSON.stringify(entry)});
    const server = await startServer({ object: ${JSON.stringify(config)}, env: ${JSON.stringify(env)}, logDestination: { write() {} } });
    const answer = await fetch(server.address + '/auth/v1/self', { headers: { authorization: 'Bearer lazy-sdk-token-value-4f' } });
    await server.close();
    process.stdout.write(JSON.stringify({ status: answer.status }));
  `,
    { env: { ...process.env, ...env } },
  );
  const { status } = JSON.parse(stdout) as { status: number };
  expect(status).toBe(200);
  return [...resolved];
}

const tokenConfig = (provider: string, path: string, providers: Record<string, unknown>) => ({
  server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
  authentication: {
    required: true,
    methods: {
      token: { enabled: true, storage: { tokens: { ci: { credential: `\${secret:${provider}:${path}}` } } } },
    },
  },
  secrets: { providers },
});

const loadedSdks = (seen: readonly string[]) => namesLoaded(seen, SDKS);

describe('start-up imports a cloud store SDK only when that store is enabled', () => {
  it('with only the file store: none of the four', async () => {
    const basePath = tempFiles({ 'ci-token': 'lazy-sdk-token-value-4f' });
    const seen = await modulesLoadedServing(
      tokenConfig('file', 'ci-token', { file: { enabled: true, base_path: basePath } }),
      {},
    );
    // The recorder works: the server's own dependencies are seen.
    expect(seen.some((url) => url.includes('/node_modules/fastify/'))).toBe(true);
    expect(loadedSdks(seen)).toEqual([]);
  });

  const fakes: Record<string, SecretStoreFake> = {};
  beforeAll(async () => {
    [fakes.vault, fakes.aws, fakes.gcp, fakes.azure] = await Promise.all([
      startVaultFake(),
      startAwsFake(),
      startGcpFake(),
      startAzureFake(),
    ]);
  });
  afterAll(async () => {
    await Promise.all(Object.values(fakes).map((fake) => fake.close()));
  });

  for (const name of Object.keys(SDKS)) {
    it(`with ${name} enabled: its SDK and no other`, async () => {
      const fake = fakes[name] as SecretStoreFake;
      fake.set('lazy-sdk-token', 'lazy-sdk-token-value-4f');
      const seen = await modulesLoadedServing(
        tokenConfig(name, 'lazy-sdk-token', { [name]: { enabled: true, ...fake.config } }),
        { ...fake.env },
      );
      expect(loadedSdks(seen)).toEqual([name]);
    });
  }
});
