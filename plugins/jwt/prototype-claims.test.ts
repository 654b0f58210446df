/**
 * Issue 14: claims are JSON from the request; a claim named `__proto__` (or `constructor`, ...) is an ordinary claim,
 * kept in `io.flipt.auth.claims` as Flipt's Go keeps it, and reachable by `claims_mapping`.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { serveForTest } from '../../core/test-support/server.ts';
import { startTokenIssuer } from '../../core/test-support/token-issuer.ts';

describe('jwt: claims named like inherited properties', () => {
  it('keeps __proto__ and constructor in io.flipt.auth.claims and maps them by pointer', async () => {
    const idp = await startTokenIssuer();
    onTestFinished(() => idp.close());
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: {
          jwt: {
            enabled: true,
            jwks_url: idp.jwksUrl,
            claims_mapping: { role: '/__proto__/role', name: '/constructor' },
          },
        },
      },
    });
    // JSON.parse, so that __proto__ is an own key of the claims (an object literal would set the prototype).
    const claims = JSON.parse('{"sub":"svc","__proto__":{"role":"admin"},"constructor":"Ada"}') as Record<
      string,
      unknown
    >;
    const token = await idp.sign(claims);
    const response = await t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${token}` } });
    expect(response.status).toBe(200);
    const { metadata } = (await response.json()) as { metadata: Record<string, string> };
    expect(metadata['io.flipt.auth.jwt.role']).toBe('admin');
    expect(metadata['io.flipt.auth.jwt.name']).toBe('Ada');
    // Go's json.Marshal of the claims: keys sorted, so these two come first.
    expect(metadata['io.flipt.auth.claims']).toMatch(
      /^\{"__proto__":\{"role":"admin"\},"constructor":"Ada","exp":/,
    );
  });
});
