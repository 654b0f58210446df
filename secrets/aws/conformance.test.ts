import { afterAll } from 'vitest';
import { secretProviderCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { startAwsFake } from './fake.ts';
import aws from './index.ts';

// The store against the local fake of Secrets Manager (fake.test.ts holds the fake to the real SDK). The fake's
// region and key pair reach the store through ctx.env, as the runtime's environment would bring them.
const fake = await startAwsFake();
afterAll(() => fake.close());

describeCases(
  'aws: conformance',
  secretProviderCases(aws, {
    config: fake.config,
    env: fake.env,
    seed: async (path, value) => fake.set(path, value),
    secrets: [fake.env.AWS_SECRET_ACCESS_KEY],
  }),
);
