import { afterAll } from 'vitest';
import { methodPluginCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { newIssuerKey, startTokenIssuer } from '../../core/test-support/token-issuer.ts';
import jwt from './index.ts';

const idp = await startTokenIssuer();
afterAll(() => idp.close());
// Signed by a key the JWKS does not publish: the method's own scheme, refused.
const stranger = await newIssuerKey();

describeCases(
  'jwt: conformance',
  methodPluginCases(jwt, {
    config: { jwks_url: idp.jwksUrl, validate_claims: { issuer: idp.issuer } },
    goodCredential: `JWT ${await idp.sign({ sub: 'svc-conformance' })}`,
    badCredential: `JWT ${await idp.sign({ sub: 'svc-conformance' }, { key: stranger })}`,
    // No foreignCredential: the jwt method takes every JWT that another method (kubernetes) leaves.
  }),
);
