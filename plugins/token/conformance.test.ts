import { methodPluginCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import token from './index.ts';

const credential = 'conformance-static-token-5f1c9a';

describeCases(
  'token: conformance',
  methodPluginCases(token, {
    config: {
      storage: { tokens: { ci: { credential, metadata: { 'io.flipt.auth.email': 'ci@example.com' } } } },
      bootstrap: { token: 'conformance-bootstrap-token-77ad' },
    },
    goodCredential: `Bearer ${credential}`,
    badCredential: 'Bearer conformance-not-a-token-0b3e',
    secrets: [credential, 'conformance-bootstrap-token-77ad'],
  }),
);
