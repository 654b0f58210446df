import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { startTokenIssuer } from '../test-support/token-issuer.ts';

/** A server with static tokens, the jwt method on a live JWKS, and cross-origin protection. */
async function serve() {
  const idp = await startTokenIssuer();
  onTestFinished(() => idp.close());
  const t = await serveForTest({
    authentication: {
      required: true,
      session: { domain: 'flipt.example.com', csrf: { key: 'some-key' } },
      methods: {
        token: { enabled: true, storage: { tokens: { ci: { credential: 'static-secret' } } } },
        jwt: { enabled: true, jwks_url: idp.jwksUrl, validate_claims: { issuer: idp.issuer } },
      },
    },
  });
  return { t, idp };
}

const decisions = (t: TestServer) => t.logs.filter((line) => line.msg === 'authentication decision');

/** The decision line a request made: the one logged after it was sent. */
async function decisionOf(t: TestServer, request: () => Promise<Response>) {
  const before = decisions(t).length;
  const response = await request();
  await response.body?.cancel();
  await vi.waitFor(() => expect(decisions(t).length).toBe(before + 1));
  return { status: response.status, line: decisions(t)[before] as Record<string, unknown> };
}

const self =
  (t: TestServer, headers: Record<string, string> = {}) =>
  () =>
    t.fetch('/auth/v1/self', { headers });

describe('refusal reasons in decision logs', () => {
  it('names each core refusal with its id, beside the detail in words', async () => {
    const { t } = await serve();
    const expired = await t.server.runtime.store.createAuthentication({
      method: 'METHOD_TOKEN',
      expiresAt: new Date(Date.now() - 1000),
      metadata: {},
    });
    const cases: Array<[() => Promise<Response>, Record<string, unknown>]> = [
      [self(t), { reason: 'no_credential', detail: 'no credential', via: 'none' }],
      [
        self(t, { authorization: 'Basic dXNlcjpwYXNz' }),
        { reason: 'unsupported_authorization', detail: 'unsupported authorization header' },
      ],
      [
        self(t, bearer('not-a-token')),
        { reason: 'client_token_not_found', detail: 'client token not found', via: 'bearer' },
      ],
      [
        self(t, { cookie: `flipt_client_token=${expired.clientToken}` }),
        { reason: 'authentication_expired', detail: 'authentication expired', via: 'cookie' },
      ],
    ];
    for (const [request, expected] of cases) {
      const { status, line } = await decisionOf(t, request);
      expect(status, String(expected.reason)).toBe(401);
      expect(line).toMatchObject({
        level: 'warn',
        outcome: 'unauthenticated',
        path: '/auth/v1/self',
        ...expected,
      });
    }
    expect(JSON.stringify(t.logs)).not.toContain('not-a-token');
  });

  it("names a method's refusal by the id it gave, or by its error's code", async () => {
    const { t, idp } = await serve();
    const jwt = (token: string) => self(t, { authorization: `JWT ${token}` });
    const now = Math.floor(Date.now() / 1000);
    const good = await idp.sign({ sub: 'ci' });
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const forged = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const cases: Array<[string, Record<string, unknown>]> = [
      [
        await idp.sign({ sub: 'ci', iat: now - 3600, exp: now - 600 }),
        { reason: 'token_expired', detail: 'jwt: invalid expiration time (exp) claim: token is expired' },
      ],
      [
        await idp.sign({ sub: 'ci', iss: 'https://someone-else.example' }),
        { reason: 'claim_mismatch', detail: 'jwt: unexpected "iss" claim value' },
      ],
      [forged, { reason: 'jws_signature_verification_failed', detail: 'jwt: signature verification failed' }],
      [
        `${good}=`,
        { reason: 'jws_invalid', detail: expect.stringMatching(/^jwt: the signature part has "="/) },
      ],
      ['x'.repeat(17 * 1024), { reason: 'token_too_long', detail: 'jwt: token longer than 16384 bytes' }],
    ];
    for (const [token, expected] of cases) {
      const { status, line } = await decisionOf(t, jwt(token));
      expect(status, String(expected.reason)).toBe(401);
      expect(line).toMatchObject({ outcome: 'unauthenticated', via: 'jwt', ...expected });
    }
    expect((await t.fetch('/auth/v1/self', { headers: { authorization: `JWT ${good}` } })).status).toBe(200);
  });

  it('logs a cross-origin refusal as forbidden, csrf_refused, whether the API or forward-auth refused it', async () => {
    const { t } = await serve();
    const api = await decisionOf(t, () =>
      t.fetch('/auth/v1/method/token', {
        method: 'POST',
        headers: {
          ...bearer('static-secret'),
          'sec-fetch-site': 'cross-site',
          'content-type': 'application/json',
        },
        body: '{"name":"x"}',
      }),
    );
    expect(api.status).toBe(403);
    expect(api.line).toMatchObject({
      outcome: 'forbidden',
      reason: 'csrf_refused',
      detail: 'cross-origin request detected from Sec-Fetch-Site header',
      via: 'csrf',
      path: '/auth/v1/method/token',
    });
    const forward = await decisionOf(t, () =>
      t.fetch('/auth/v1/forward', {
        headers: {
          'x-forwarded-method': 'DELETE',
          'x-forwarded-uri': '/api/v1/flags/a?x=1',
          'sec-fetch-site': 'cross-site',
        },
      }),
    );
    expect(forward.status).toBe(403);
    expect(forward.line).toMatchObject({
      outcome: 'forbidden',
      reason: 'csrf_refused',
      path: '/api/v1/flags/a',
    });
    // Forward-auth's own refusals are named as the hook's are.
    const unknown = await decisionOf(t, () =>
      t.fetch('/auth/v1/forward', { headers: { ...bearer('nope'), 'x-forwarded-uri': '/api/v1/flags' } }),
    );
    expect(unknown.status).toBe(401);
    expect(unknown.line).toMatchObject({ reason: 'client_token_not_found', path: '/api/v1/flags' });
  });

  it('says why a route about the caller refuses everyone while authentication is not required', async () => {
    const t = await serveForTest({
      authentication: {
        required: false,
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'static-secret' } } } } },
      },
    });
    const { status, line } = await decisionOf(t, self(t, bearer('static-secret')));
    expect(status).toBe(401);
    expect(line).toMatchObject({
      outcome: 'unauthenticated',
      reason: 'authentication_not_required',
      detail: 'authentication.required is false, so no request is authenticated',
    });
  });
});
