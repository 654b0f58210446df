/**
 * Issue 14: a JWT is a compact JWS read strictly (RFC 7515 §2, §7.1), as Flipt's go-jose reads it. jose alone took a
 * signature padded with `==` (and whitespace inside it), so the fuzzer's respelling of a valid token authenticated.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { refusedSpellings } from '../../core/test-support/jws-spellings.ts';
import { serveForTest } from '../../core/test-support/server.ts';
import { startTokenIssuer } from '../../core/test-support/token-issuer.ts';

describe('jwt: Authorization: JWT must be a strict compact JWS', () => {
  for (const alg of ['RS256', 'ES256']) {
    it(`refuses with 401 every respelling of a valid ${alg} token: padding, +, /, whitespace, in any part`, async () => {
      const idp = await startTokenIssuer({ alg });
      onTestFinished(() => idp.close());
      const t = await serveForTest({
        authentication: {
          required: true,
          methods: { jwt: { enabled: true, jwks_url: idp.jwksUrl, validate_claims: { issuer: idp.issuer } } },
        },
      });
      const self = (token: string) =>
        t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${token}` } });
      const token = await idp.sign({ sub: 'svc-1' });
      expect((await self(token)).status).toBe(200);
      for (const [what, respelled] of refusedSpellings(token)) {
        const response = await self(respelled);
        expect(response.status, what).toBe(401);
        expect(await response.json()).toEqual({
          code: 16,
          message: 'request was not authenticated',
          details: [],
        });
      }
      // The detail logged names the part and what was found, never the token; the reason id is jose's code's.
      const padded = t.logs.find((line) => String(line.detail).includes('the signature part has "="'));
      expect(padded?.detail).toMatch(/^jwt: the signature part has "=" at character \d+/);
      expect(padded?.reason).toBe('jws_invalid');
      expect(JSON.stringify(t.logs)).not.toContain(token.split('.')[2]);
    });
  }
});
