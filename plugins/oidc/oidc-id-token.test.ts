import { generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../../core/test-support/browser.ts';
import { freePort, retryOnPortClash } from '../../core/test-support/redis.ts';
import {
  type IdTokenDraft,
  type ScriptedProvider,
  startScriptedProvider,
} from '../../core/test-support/scripted-provider.ts';
import { bearer, serveForTest, type TestServer } from '../../core/test-support/server.ts';

const CLIENT = { client_id: 'portcullis', client_secret: 'scripted-secret' };
let provider: ScriptedProvider;

beforeAll(async () => {
  provider = await startScriptedProvider(CLIENT);
});
afterAll(() => provider.close());

function serve(): Promise<{ t: TestServer; base: string }> {
  return retryOnPortClash(serveOnce);
}

async function serveOnce(): Promise<{ t: TestServer; base: string }> {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const t = await serveForTest({
    server: { host: 'localhost', http_port: port },
    authentication: {
      required: true,
      session: { domain: 'localhost' },
      methods: {
        token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } },
        oidc: {
          enabled: true,
          providers: { scripted: { issuer_url: provider.issuer, ...CLIENT, redirect_address: base } },
        },
      },
    },
  });
  return { t, base };
}

const atCallback = (page: Page) => page.url.includes('/callback');

async function login(base: string): Promise<Page> {
  const browser = new Browser();
  const authorize = await browser.request(`${base}/auth/v1/method/oidc/scripted/authorize`);
  const { authorizeUrl } = JSON.parse(authorize.body) as { authorizeUrl: string };
  const page = await browser.navigate(authorizeUrl, {}, atCallback);
  await browser.close();
  return page;
}

async function sessions(t: TestServer): Promise<unknown[]> {
  const response = await t.fetch('/auth/v1/tokens?method=METHOD_OIDC', { headers: bearer('admin-secret') });
  return ((await response.json()) as { authentications: unknown[] }).authentications;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Each forged ID token, and how it is forged. */
const FORGERIES: ReadonlyArray<[string, (draft: IdTokenDraft) => Promise<string> | string]> = [
  ['a wrong audience', (d) => d.sign({ ...d.claims, aud: 'another-client' })],
  ['a wrong issuer', (d) => d.sign({ ...d.claims, iss: 'https://evil.example.com' })],
  ['an expired ID token', (d) => d.sign({ ...d.claims, iat: d.claims.iat - 7200, exp: d.claims.iat - 3600 })],
  ['a wrong nonce', (d) => d.sign({ ...d.claims, nonce: 'not-the-nonce-we-sent' })],
  ['no nonce at all', (d) => d.sign({ ...d.claims, nonce: undefined } as JWTPayload)],
  ['an ID token signed with "none"', (d) => `${base64url({ alg: 'none' })}.${base64url(d.claims)}.`],
  [
    'HS256 keyed with the public key (algorithm confusion)',
    (d) =>
      new SignJWT(d.claims)
        .setProtectedHeader({ alg: 'HS256', kid: 'scripted-1' })
        .sign(new TextEncoder().encode(d.publicKeyPem)),
  ],
  [
    'a signature from a key not in the JWKS (same kid)',
    async (d) => {
      const { privateKey } = await generateKeyPair('RS256');
      return new SignJWT(d.claims).setProtectedHeader({ alg: 'RS256', kid: 'scripted-1' }).sign(privateKey);
    },
  ],
  [
    'a signature from a key not in the JWKS (unknown kid)',
    async (d) => {
      const { privateKey } = await generateKeyPair('RS256');
      return new SignJWT(d.claims).setProtectedHeader({ alg: 'RS256', kid: 'stranger' }).sign(privateKey);
    },
  ],
];

describe('oidc: the ID token', () => {
  it('is accepted when honest (the scripted provider is sound)', async () => {
    const { t, base } = await serve();
    provider.issue((draft) => draft.sign(draft.claims));
    const page = await login(base);
    expect(page.status).toBe(302);
    expect(await sessions(t)).toHaveLength(1);
  });

  for (const [what, forge] of FORGERIES) {
    it(`is refused with 401 and no session when it has ${what}`, async () => {
      const { t, base } = await serve();
      provider.issue(forge);
      const before = provider.issued;
      const page = await login(base);
      // The provider did hand the forged token over: refusing it was the relying party's doing.
      expect(provider.issued).toBe(before + 1);
      expect(page.status).toBe(401);
      expect(JSON.parse(page.body)).toEqual({
        code: 16,
        message: 'callback: code exchange failed',
        details: [],
      });
      expect(page.headers.getSetCookie().some((c) => c.startsWith('flipt_client_token='))).toBe(false);
      expect(await sessions(t)).toEqual([]);
      expect(t.logs.some((line) => line.msg === 'callback: code exchange failed')).toBe(true);
    });
  }
});
