import { afterAll } from 'vitest';
import { secretProviderCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { startVaultFake } from './fake.ts';
import vault from './index.ts';

// The store against a local fake Vault (checked against node-vault in fake.test.ts), with a token login.
const fake = await startVaultFake({ token: 'conformance-vault-token-2b9e' });
afterAll(() => fake.close());

describeCases(
  'vault: conformance',
  secretProviderCases(vault, {
    config: fake.config,
    env: fake.env,
    seed: async (path, value) => fake.set(path, value),
    secrets: ['conformance-vault-token-2b9e'],
  }),
);
