import { afterAll } from 'vitest';
import { secretProviderCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { startAzureFake } from './fake.ts';
import azure from './index.ts';

// The store runs against the local fake of Key Vault (HTTPS from a generated CA, the bearer challenge), in the
// emulator mode Flipt uses for Lowkey Vault: AZURE_KEYVAULT_EMULATOR=true, and ca_cert_path trusting the fake's CA.
const fake = await startAzureFake();
afterAll(() => fake.close());

describeCases(
  'azure: conformance',
  secretProviderCases(azure, {
    config: fake.config,
    env: fake.env,
    seed: async (path, value) => fake.set(path, value),
  }),
);
