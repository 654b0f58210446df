import { randomUUID } from 'node:crypto';
import { generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../../core/test-support/browser.ts';
import { freePort, retryOnPortClash } from '../../core/test-support/ports.ts';
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

function serve(options: Record<string, unknown> = {}): Promise<{ t: TestServer; base: string }> {
  return retryOnPortClash(() => serveOnce(options));
}

async function serveOnce(options: Record<string, unknown>): Promise<{ t: TestServer; base: string }> {
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
          providers: {
            scripted: { issuer_url: provider.issuer, ...CLIENT, redirect_address: base, ...options },
          },
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

const nowS = () => Math.floor(Date.now() / 1000);

/** Logs in once with the ID token `script` makes; the callback's status. */
async function loginStatus(base: string, script: (draft: IdTokenDraft) => Promise<string> | string) {
  provider.issue(script);
  return (await login(base)).status;
}

describe('oidc: the ID token’s time claims get go-oidc’s leeways', () => {
  // Margins of two and three seconds around each edge, for the time a login takes.
  it('nbf one second ahead (a provider rounding up, or a second fast) logs in: the bug report', async () => {
    const { t, base } = await serve();
    expect(await loginStatus(base, (d) => d.sign({ ...d.claims, nbf: nowS() + 1 }))).toBe(302);
    expect(await sessions(t)).toHaveLength(1);
  });

  it('nbf up to five minutes ahead is accepted, past that refused', async () => {
    const { base } = await serve();
    expect(await loginStatus(base, (d) => d.sign({ ...d.claims, nbf: nowS() + 298 }))).toBe(302);
    expect(await loginStatus(base, (d) => d.sign({ ...d.claims, nbf: nowS() + 303 }))).toBe(401);
  });

  it('exp gets no leeway: a second past is refused; iat is not compared with the clock', async () => {
    const { base } = await serve();
    expect(await loginStatus(base, (d) => d.sign({ ...d.claims, exp: nowS() + 3 }))).toBe(302);
    expect(await loginStatus(base, (d) => d.sign({ ...d.claims, exp: nowS() - 2 }))).toBe(401);
    expect(await loginStatus(base, (d) => d.sign({ ...d.claims, iat: nowS() + 3600 }))).toBe(302);
  });
});

describe('oidc: a signing key rotated at the provider', () => {
  it('under the same kid, then with no kid: each picked up with one JWKS fetch', async () => {
    const { base } = await serve();
    const honest = (d: IdTokenDraft) => d.sign(d.claims);
    expect(await loginStatus(base, honest)).toBe(302);
    for (const kid of ['scripted-1', null]) {
      await provider.rotate(kid);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const fetches = provider.jwksFetches;
      expect(await loginStatus(base, honest)).toBe(302);
      expect(await loginStatus(base, honest)).toBe(302);
      expect(provider.jwksFetches - fetches).toBe(1);
    }
    await provider.rotate('scripted-1');
  });
});

describe('oidc: signed userinfo (fetch_extra_user_info)', () => {
  it('merges the claims of a userinfo JWT signed with the provider’s key', async () => {
    const { t, base } = await serve({ fetch_extra_user_info: true });
    provider.answerUserinfo((d) => d.sign({ sub: d.claims.sub, name: 'Signed Name', aud: CLIENT.client_id }));
    expect(await loginStatus(base, (d) => d.sign(d.claims))).toBe(302);
    const [session] = (await sessions(t)) as Array<{ metadata: Record<string, string> }>;
    expect(session?.metadata['io.flipt.auth.oidc.name']).toBe('Signed Name');
  });

  const REFUSED: ReadonlyArray<[string, (d: IdTokenDraft) => Record<string, unknown> | Promise<string>]> = [
    [
      'signed by a key not in the JWKS',
      async (d) => {
        const { privateKey } = await generateKeyPair('RS256');
        return new SignJWT({ sub: d.claims.sub, name: 'Forged' })
          .setProtectedHeader({ alg: 'RS256', kid: 'scripted-1' })
          .sign(privateKey);
      },
    ],
    [
      'unsigned ("none")',
      (d) => Promise.resolve(`${base64url({ alg: 'none' })}.${base64url({ sub: d.claims.sub })}.`),
    ],
    ['for another subject (JSON)', () => ({ sub: 'someone-else', name: 'Other' })],
    ['for another subject (signed)', (d) => d.sign({ sub: 'someone-else' })],
    ['for another client', (d) => d.sign({ sub: d.claims.sub, aud: 'another-client' })],
    ['from another issuer', (d) => d.sign({ sub: d.claims.sub, iss: 'https://evil.example.com' })],
    ['with nbf more than five minutes ahead', (d) => d.sign({ sub: d.claims.sub, nbf: nowS() + 303 })],
    ['expired', (d) => d.sign({ sub: d.claims.sub, exp: nowS() - 2 })],
  ];
  for (const [what, answer] of REFUSED) {
    it(`refuses the login when the userinfo answer is ${what}`, async () => {
      const { t, base } = await serve({ fetch_extra_user_info: true });
      provider.answerUserinfo(answer);
      const page = await login(base);
      expect(page.status).toBe(401);
      expect(JSON.parse(page.body)).toMatchObject({ message: 'callback: claim extraction failed' });
      expect(await sessions(t)).toEqual([]);
    });
  }

  it('accepts a signed userinfo with nbf less than five minutes ahead', async () => {
    const { base } = await serve({ fetch_extra_user_info: true });
    provider.answerUserinfo((d) => d.sign({ sub: d.claims.sub, nbf: nowS() + 298 }));
    expect(await loginStatus(base, (d) => d.sign(d.claims))).toBe(302);
  });
});

describe('oidc: back-channel logout tokens', () => {
  const revoke = (t: TestServer, logoutToken: string) =>
    t.fetch('/auth/v1/method/oidc/scripted/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: logoutToken }).toString(),
    });
  const logoutToken = (claims: JWTPayload = {}) =>
    provider.sign({
      iss: provider.issuer,
      aud: CLIENT.client_id,
      sub: 'scripted-user',
      iat: nowS(),
      exp: nowS() + 120,
      jti: randomUUID(),
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      ...claims,
    });

  it('get the ID token’s leeways (nbf five minutes, exp none) and must be recent', async () => {
    const { t } = await serve();
    const status = async (claims: JWTPayload) => (await revoke(t, await logoutToken(claims))).status;
    expect(await status({})).toBe(200);
    expect(await status({ nbf: nowS() + 298 })).toBe(200);
    expect(await status({ nbf: nowS() + 303 })).toBe(400);
    expect(await status({ exp: nowS() + 3 })).toBe(200);
    expect(await status({ exp: nowS() - 2 })).toBe(400);
    expect(await status({ iat: nowS() + 298 })).toBe(200);
    expect(await status({ iat: nowS() + 303 })).toBe(400);
    expect(await status({ iat: nowS() - 297 })).toBe(200);
    expect(await status({ iat: nowS() - 303 })).toBe(400);
  });

  it('signed by a key rotated under the same kid, verify after one JWKS fetch', async () => {
    const { t } = await serve();
    expect((await revoke(t, await logoutToken())).status).toBe(200);
    await provider.rotate('scripted-1');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const fetches = provider.jwksFetches;
    expect((await revoke(t, await logoutToken())).status).toBe(200);
    expect((await revoke(t, await logoutToken())).status).toBe(200);
    expect(provider.jwksFetches - fetches).toBe(1);
  });
});
