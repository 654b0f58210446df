import { afterAll } from 'vitest';
import { secretProviderCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { startGcpFake } from './fake.ts';
import gcp from './index.ts';

// The store against the local Secret Manager fake (a gRPC server built from the SDK's protos, checked against the
// SDK in fake.test.ts), reached as Flipt reaches an emulator: SECRET_MANAGER_EMULATOR_HOST in the environment.
// A location, so that the regional resource names are what every case reads.
const fake = await startGcpFake({ project: 'conformance-project', location: 'europe-west1' });
afterAll(() => fake.close());

describeCases(
  'gcp: conformance',
  secretProviderCases(gcp, {
    config: fake.config,
    env: fake.env,
    seed: async (path, value) => fake.set(path, value),
  }),
);
