import { secretProviderCases } from '../../conformance/kit/index.ts';
import { refusalOf } from '../../conformance/kit/test-support/unavailable.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import vault from './index.ts';

const config = {
  address: 'http://127.0.0.1:8200',
  auth_method: 'token',
  token: 'conformance-vault-token-2b9e',
  mount: 'secret',
};

// No runtime yet (issue 16): the schema and validate cases run, the source cases are reported skipped with the
// refusal a runtime gets; refusalOf throws once the store starts, so this file then needs a seed fixture.
describeCases(
  'vault: conformance',
  secretProviderCases(vault, {
    config,
    unavailable: await refusalOf('vault', config),
    secrets: ['conformance-vault-token-2b9e'],
  }),
);
