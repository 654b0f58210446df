import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsFake } from '../../secrets/aws/fake.ts';
import { startAzureFake } from '../../secrets/azure/fake.ts';
import { startGcpFake } from '../../secrets/gcp/fake.ts';
import { startVaultFake } from '../../secrets/vault/fake.ts';
import { createRuntime } from '../runtime.ts';
import type { SecretStoreFake } from '../test-support/secret-store-fake.ts';

const STORES = [
  ['vault', startVaultFake],
  ['aws', startAwsFake],
  ['gcp', startGcpFake],
  ['azure', startAzureFake],
] as const;

describe.each(STORES)('%s: the keys of one secret', (name, startFake) => {
  let fake: SecretStoreFake;
  beforeAll(async () => {
    fake = await startFake();
  });
  afterAll(() => fake.close());

  it('are read with one request (so from one version of the secret), among others read apart', async () => {
    fake.set(
      'shared-pair',
      JSON.stringify({ user: 'shared-read-user-1a', password: 'shared-read-password-2b' }),
    );
    fake.set('other-secret', JSON.stringify({ other: 'shared-read-other-3c' }));
    const before = fake.requests.length;
    const runtime = await createRuntime({
      object: {
        authentication: {
          methods: {
            token: {
              enabled: true,
              storage: {
                tokens: {
                  user: { credential: `\${secret:${name}:shared-pair:user}` },
                  other: { credential: `\${secret:${name}:other-secret:other}` },
                  password: { credential: `\${secret:${name}:shared-pair:password}` },
                },
              },
            },
          },
        },
        secrets: { providers: { [name]: { enabled: true, ...fake.config } } },
      },
      env: { ...fake.env },
      logDestination: { write: () => undefined },
    });
    await runtime.close();
    const asked = fake.requests
      .slice(before)
      // Azure's first request of a client carries no bearer: Key Vault answers it with its challenge, not a secret.
      .filter((request) => name !== 'azure' || request.headers.authorization !== undefined)
      .map((request) => `${request.path} ${request.body}`);
    expect(asked.filter((request) => request.includes('shared-pair'))).toHaveLength(1);
    expect(asked.filter((request) => request.includes('other-secret'))).toHaveLength(1);
  });
});
