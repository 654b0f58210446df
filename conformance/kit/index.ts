/**
 * `portcullis/conformance`: harnesses a plugin author runs in their own test runner. `methodPluginCases` and
 * `secretProviderCases` return plain async cases; register them with the vitest adapter
 * (`portcullis/conformance/vitest`), the `node:test` adapter (`portcullis/conformance/node-test`), or any runner
 * that can call an async function. Cases that need a real server start one (portcullis itself, on 127.0.0.1 and an
 * ephemeral port); nothing of portcullis is mocked.
 *
 * @example
 * ```ts
 * import { methodPluginCases } from 'portcullis/conformance';
 * import { describeCases } from 'portcullis/conformance/node-test';
 * import plugin from '../index.ts';
 *
 * describeCases('htpasswd conformance', methodPluginCases(plugin, {
 *   config: { file: './fixtures/users.htpasswd' },
 *   goodCredential: `Basic ${Buffer.from('ada:lovelace').toString('base64')}`,
 *   badCredential: `Basic ${Buffer.from('ada:babbage').toString('base64')}`,
 *   secrets: ['lovelace'],
 * }));
 * ```
 *
 * @packageDocumentation
 */
export { methodPluginCases } from './method-cases.ts';
export { CaseSkipped } from './skip.ts';
export { secretProviderCases } from './store-cases.ts';
export { methodTestContext, type TestMethodContext } from './test-context.ts';
export type {
  ConformanceCase,
  CredentialFixture,
  HarnessServer,
  MethodFixtures,
  SecretProviderFixtures,
} from './types.ts';
