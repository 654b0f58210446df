import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { importJWK, SignJWT } from 'jose';
import type { SigningAlgorithmWithNone } from 'oidc-provider';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { Browser, formsOf, type Page } from '../../core/test-support/browser.ts';
import {
  callbackUrl,
  signingKey,
  startTestProvider,
  type TestProvider,
  type TestProviderOptions,
} from '../../core/test-support/openid-provider.ts';
import { freePort, retryOnPortClash } from '../../core/test-support/ports.ts';
import { startRedis } from '../../core/test-support/redis.ts';
import { bearer, serveForTest, type TestServer } from '../../core/test-support/server.ts';
import { createTestCa, type TestCa } from '../../core/test-support/tls.ts';
import { tempDir } from '../../core/test-support/tmp.ts';

const ACCOUNTS = {
  mark: {
    email: 'mark@flipt.io',
    email_verified: true,
    name: 'Mark Phelps',
    picture: 'https://pics/mark.png',
  },
  george: { email: 'george@flipt.io', email_verified: false, name: 'George MacRorie' },
  eve: { email: 'eve@evil.example', email_verified: true, name: 'Eve' },
};

interface Setup {
  readonly op: TestProvider;
  readonly t: TestServer;
  readonly base: string;
  readonly browser: () => Browser;
}

interface SetupOptions {
  /** Per-provider settings beyond issuer, client and redirect address; provider names are the keys. */
  readonly providers?: Record<string, Record<string, unknown>>;
  readonly oidc?: Record<string, unknown>;
  readonly session?: Record<string, unknown>;
  readonly provider?: Partial<TestProviderOptions>;
  /** TLS for both the provider and portcullis, from one test CA. */
  readonly ca?: TestCa;
  /** What the provider signs ID tokens with (RS256 by default). */
  readonly idTokenAlg?: SigningAlgorithmWithNone;
}

/** The provider and portcullis, on a port both know in advance (tried again if another test takes it). */
function setup(options: SetupOptions = {}): Promise<Setup> {
  return retryOnPortClash(() => setupOnce(options));
}

async function setupOnce(options: SetupOptions): Promise<Setup> {
  const port = await freePort();
  const scheme = options.ca === undefined ? 'http' : 'https';
  const base = `${scheme}://localhost:${port}`;
  const providers = options.providers ?? { main: {} };
  const op = await startTestProvider({
    clients: Object.keys(providers).map((name) => ({
      client_id: `client-${name}`,
      client_secret: `secret-${name}`,
      redirect_uris: [`${base}/auth/v1/method/oidc/${name}/callback`],
      post_logout_redirect_uris: [base],
      backchannel_logout_uri: `${base}/auth/v1/method/oidc/${name}/revoke`,
      ...(options.idTokenAlg !== undefined && { id_token_signed_response_alg: options.idTokenAlg }),
    })),
    accounts: ACCOUNTS,
    ...(options.ca && { tls: options.ca.issue(['localhost'], 'provider') }),
    ...options.provider,
  });
  onTestFinished(() => op.close());
  const server = options.ca?.issue(['localhost'], 'portcullis');
  const t = await serveForTest({
    server: {
      host: 'localhost',
      ...(server === undefined
        ? { http_port: port }
        : { protocol: 'https', https_port: port, cert_file: server.certFile, cert_key: server.keyFile }),
    },
    authentication: {
      required: true,
      session: { domain: 'localhost', ...options.session },
      methods: {
        token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } },
        oidc: {
          enabled: true,
          ...options.oidc,
          providers: Object.fromEntries(
            Object.entries(providers).map(([name, extra]) => [
              name,
              {
                issuer_url: op.issuer,
                client_id: `client-${name}`,
                client_secret: `secret-${name}`,
                redirect_address: base,
                scopes: ['email', 'profile'],
                ...(options.ca && { ca_path: options.ca.caFile }),
                ...extra,
              },
            ]),
          ),
        },
      },
    },
  });
  const browser = () => {
    const created = new Browser(options.ca === undefined ? {} : { ca: options.ca.caPem });
    onTestFinished(() => created.close());
    return created;
  };
  return { op, t, base, browser };
}

const atCallback = (page: Page) => new URL(page.url).pathname.endsWith('/callback');

/** The authorization URL portcullis hands a browser (as Flipt's UI fetches it). */
async function authorizeUrl(browser: Browser, base: string, provider = 'main', query = ''): Promise<string> {
  const page = await browser.request(`${base}/auth/v1/method/oidc/${provider}/authorize${query}`);
  expect(page.status).toBe(200);
  return (JSON.parse(page.body) as { authorizeUrl: string }).authorizeUrl;
}

/** Signs in at the provider's pages (login, then consent when asked) and stops at portcullis' callback. */
async function signIn(browser: Browser, url: string, user = 'mark'): Promise<Page> {
  return browser.request(await callbackUrl(browser, url, user));
}

async function login(
  setup: Setup,
  provider = 'main',
  user = 'mark',
): Promise<{ browser: Browser; callback: Page }> {
  const browser = setup.browser();
  const callback = await signIn(browser, await authorizeUrl(browser, setup.base, provider), user);
  return { browser, callback };
}

async function self(browser: Browser, base: string): Promise<Page> {
  return browser.request(`${base}/auth/v1/self`);
}

async function oidcSessions(s: Setup): Promise<Array<{ id: string; metadata: Record<string, string> }>> {
  const page = await s.browser().request(`${s.base}/auth/v1/tokens?method=METHOD_OIDC`, {
    headers: bearer('admin-secret'),
  });
  return (JSON.parse(page.body) as { authentications: never[] }).authentications;
}

function tokenCookie(page: Page): string | undefined {
  return page.headers.getSetCookie().find((cookie) => cookie.startsWith('flipt_client_token='));
}

describe('oidc: logging in through a real OpenID provider', () => {
  it('authorize → login and consent pages → callback → cookie → /auth/v1/self, with two providers', async () => {
    const s = await setup({ providers: { main: {}, second: { use_pkce: true } } });
    for (const [provider, user, name] of [
      ['main', 'mark', 'Mark Phelps'],
      ['second', 'george', 'George MacRorie'],
    ] as const) {
      const { browser, callback } = await login(s, provider, user);
      expect(callback.status).toBe(302);
      expect(callback.headers.get('location')).toBe('/');
      expect(tokenCookie(callback)).toMatch(
        /^flipt_client_token=[A-Za-z0-9_-]{43}=; Path=\/; Domain=localhost; Expires=[^;]+ GMT; HttpOnly; SameSite=Strict$/,
      );
      const body = JSON.parse(callback.body) as { clientToken: string; authentication: { method: string } };
      expect(body.clientToken).toBe('');
      expect(body.authentication.method).toBe('METHOD_OIDC');

      const me = await self(browser, s.base);
      expect(me.status).toBe(200);
      const { metadata } = JSON.parse(me.body) as { metadata: Record<string, string> };
      expect(metadata).toMatchObject({
        'io.flipt.auth.oidc.provider': provider,
        'io.flipt.auth.oidc.email': `${user}@flipt.io`,
        'io.flipt.auth.email': `${user}@flipt.io`,
        'io.flipt.auth.oidc.name': name,
        'io.flipt.auth.name': name,
        'io.flipt.auth.oidc.sub': user,
        'io.flipt.auth.oidc.email_verified': String(user === 'mark'),
      });
      expect(JSON.parse(metadata['io.flipt.auth.claims'] ?? '{}')).toMatchObject({
        sub: user,
        aud: `client-${provider}`,
      });
    }
    expect(await oidcSessions(s)).toHaveLength(2);
  });

  it('sets the state cookie on authorize as Flipt does, and keeps the client state inside the state', async () => {
    const s = await setup();
    const browser = s.browser();
    const page = await browser.request(`${s.base}/auth/v1/method/oidc/main/authorize?state=from-the-ui`);
    const url = new URL((JSON.parse(page.body) as { authorizeUrl: string }).authorizeUrl);
    const state = url.searchParams.get('state') ?? '';
    expect(JSON.parse(Buffer.from(state, 'base64url').toString())).toEqual({
      security_token: expect.stringMatching(/^[A-Za-z0-9_-]{86}==$/),
      original_state: 'from-the-ui',
    });
    expect(page.headers.getSetCookie()).toEqual([
      expect.stringMatching(
        new RegExp(
          `^flipt_client_state=${state}; Path=/auth/v1/method/oidc/main/callback; Expires=[^;]+ GMT; HttpOnly; SameSite=Lax$`,
        ),
      ),
    ]);
    expect([...url.searchParams.keys()]).toEqual([
      'client_id',
      'nonce',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
    ]);
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    expect(url.searchParams.get('redirect_uri')).toBe(`${s.base}/auth/v1/method/oidc/main/callback`);
  });

  it('adds PKCE (S256) and authorize_parameters only when configured', async () => {
    const s = await setup({
      providers: {
        plain: {},
        pkce: { use_pkce: true, authorize_parameters: { prompt: 'login', hd: 'flipt.io' } },
      },
    });
    const browser = s.browser();
    const plain = new URL(await authorizeUrl(browser, s.base, 'plain'));
    const pkce = new URL(await authorizeUrl(browser, s.base, 'pkce'));
    expect(plain.searchParams.has('code_challenge')).toBe(false);
    expect(pkce.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pkce.searchParams.get('code_challenge_method')).toBe('S256');
    expect(pkce.searchParams.get('prompt')).toBe('login');
    expect(pkce.searchParams.get('hd')).toBe('flipt.io');
    // Both logins work: with PKCE the provider checks the verifier portcullis sends with the code.
    expect((await login(s, 'plain')).callback.status).toBe(302);
    expect((await login(s, 'pkce')).callback.status).toBe(302);
  });

  it('merges userinfo claims over the ID token’s with fetch_extra_user_info, and not without', async () => {
    const s = await setup({
      providers: { extra: { fetch_extra_user_info: true }, lean: {} },
      provider: {
        userinfoOnly: { groups: ['admins', 'ops'], name: 'Mark (from userinfo)', profile: 'https://p' },
      },
    });
    const claims = async (provider: string) => {
      const { browser } = await login(s, provider);
      const { metadata } = JSON.parse((await self(browser, s.base)).body) as {
        metadata: Record<string, string>;
      };
      return {
        metadata,
        claims: JSON.parse(metadata['io.flipt.auth.claims'] ?? '{}') as Record<string, unknown>,
      };
    };
    const extra = await claims('extra');
    expect(extra.claims.groups).toEqual(['admins', 'ops']);
    expect(extra.claims.name).toBe('Mark (from userinfo)');
    // Attributes come from the signed ID token; userinfo only fills what it lacks.
    expect(extra.metadata['io.flipt.auth.name']).toBe('Mark Phelps');
    const lean = await claims('lean');
    expect(lean.claims.groups).toBeUndefined();
    expect(lean.metadata['io.flipt.auth.name']).toBe('Mark Phelps');
  });

  it('works over HTTPS with the provider’s CA given through ca_path, and refuses the provider without it', async () => {
    const ca = createTestCa(join(tempDir(), 'ca'));
    const s = await setup({ ca });
    const { browser, callback } = await login(s);
    expect(callback.status).toBe(302);
    expect(JSON.parse((await self(browser, s.base)).body)).toMatchObject({ method: 'METHOD_OIDC' });

    const untrusting = await setup({ ca, providers: { main: { ca_path: undefined } } });
    const page = await untrusting.browser().request(`${untrusting.base}/auth/v1/method/oidc/main/authorize`);
    expect(page.status).toBe(500);
    expect(JSON.parse(page.body)).toEqual({
      code: 13,
      message: 'authorize: failed get provider',
      details: [],
    });
  });

  it('accepts the algorithms configured (ES256 here) and refuses others (RS256 only, by default)', async () => {
    const es256 = { idTokenAlg: 'ES256' as const, provider: { keys: [await signingKey('ec-key', 'ES256')] } };
    const s = await setup({ ...es256, providers: { es: { algorithms: ['ES256'] }, rs: {} } });
    expect((await login(s, 'es')).callback.status).toBe(302);
    const refused = await login(s, 'rs');
    expect(refused.callback.status).toBe(401);
    expect(JSON.parse(refused.callback.body).message).toBe('callback: code exchange failed');
  });

  it('picks up a key rotation at the provider without a restart', async () => {
    const s = await setup({ provider: { keys: [await signingKey('old-key')] } });
    expect((await login(s)).callback.status).toBe(302);

    // The provider restarts on the same issuer, signing with a key portcullis has never seen.
    await s.op.close();
    const rotated = await startTestProvider({
      port: s.op.port,
      keys: [await signingKey('new-key')],
      accounts: ACCOUNTS,
      clients: [
        {
          client_id: 'client-main',
          client_secret: 'secret-main',
          redirect_uris: [`${s.base}/auth/v1/method/oidc/main/callback`],
        },
      ],
    });
    onTestFinished(() => rotated.close());
    // portcullis refetches the JWKS for an unknown key at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { browser, callback } = await login(s);
    expect(callback.status).toBe(302);
    expect((await self(browser, s.base)).status).toBe(200);
  });
});

describe('oidc: discovery', () => {
  it('with discovery_url, reads discovery there and still checks tokens against issuer_url', async () => {
    // A copy of the provider's discovery, elsewhere, naming the provider by an internal name.
    let discovery = '';
    const mirror = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(discovery);
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise((resolve) => mirror.close(() => resolve())));
    const discoveryUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/internal/discovery.json`;
    const s = await setup({ providers: { main: { discovery_url: discoveryUrl } } });
    const original = (await (
      await fetch(`${s.op.issuer}/.well-known/openid-configuration`)
    ).json()) as object;
    discovery = JSON.stringify({ ...original, issuer: 'http://idp.internal:8080' });

    const { browser, callback } = await login(s);
    expect(callback.status).toBe(302);
    expect((await self(browser, s.base)).status).toBe(200);
  });

  it('refuses a provider whose discovery names another issuer than issuer_url, saying so in the log', async () => {
    const probe = await setup();
    const s = await setup({ providers: { main: { issuer_url: `${probe.op.issuer}/` } } });
    const page = await s.browser().request(`${s.base}/auth/v1/method/oidc/main/authorize`);
    expect(page.status).toBe(500);
    expect(JSON.parse(page.body)).toEqual({
      code: 13,
      message: 'authorize: failed get provider',
      details: [],
    });
    await vi.waitFor(() =>
      expect(s.t.logs).toContainEqual(
        expect.objectContaining({
          msg: 'authorize: failed get provider',
          reason: expect.stringContaining('names the issuer'),
        }),
      ),
    );
  });

  it('keeps using the last discovery when a refresh fails, and says so', async () => {
    const s = await setup({ oidc: { cache_ttl: '1ms' } });
    expect((await login(s)).callback.status).toBe(302);
    await s.op.close();
    const page = await s.browser().request(`${s.base}/auth/v1/method/oidc/main/authorize`);
    expect(page.status).toBe(200);
    await vi.waitFor(() =>
      expect(s.t.logs).toContainEqual(
        expect.objectContaining({ msg: 'could not refresh the provider discovery; using the previous one' }),
      ),
    );
  });

  it('behind a proxy, binds the state cookie and the redirect after login to X-Forwarded-Prefix', async () => {
    const s = await setup();
    const loginThrough = async (prefix: string) => {
      const browser = s.browser();
      const headers = { 'x-forwarded-prefix': prefix };
      const authorize = await browser.request(`${s.base}/auth/v1/method/oidc/main/authorize`, { headers });
      const url = (JSON.parse(authorize.body) as { authorizeUrl: string }).authorizeUrl;
      // The proxy strips the prefix before portcullis sees the callback; this jar talks to portcullis directly.
      const state = new URL(url).searchParams.get('state');
      await browser.jar.setCookie(`flipt_client_state=${state}; Path=/`, s.base);
      const callback = await browser.request(await callbackUrl(browser, url), { headers });
      return { cookie: authorize.headers.getSetCookie()[0], location: callback.headers.get('location') };
    };
    const proxied = await loginThrough('/flipt');
    expect(proxied.cookie).toContain('; Path=/flipt/auth/v1/method/oidc/main/callback;');
    expect(proxied.location).toBe('/flipt/');
    // Whatever the header says, the redirect stays on this origin.
    expect((await loginThrough('https://evil.example')).location).toBe('/');
    expect((await loginThrough('//evil.example')).location).toBe('/evil.example/');
    expect((await loginThrough('/\\evil.example')).location).toBe('/');
  });
});

describe('oidc: refused logins create no session and never answer 500', () => {
  it('refuses a callback without the state cookie, or with another login’s', async () => {
    const s = await setup();
    const browser = s.browser();
    const first = await authorizeUrl(browser, s.base);
    await authorizeUrl(browser, s.base); // a second login replaces the state cookie
    const mismatched = await signIn(browser, first);
    expect(mismatched.status).toBe(401);
    expect(JSON.parse(mismatched.body)).toEqual({
      code: 16,
      message: 'callback: failed to get state',
      details: [],
    });

    const stranger = s.browser();
    const withoutCookie = await stranger.request(mismatched.url);
    expect(withoutCookie.status).toBe(401);
    expect(withoutCookie.headers.get('www-authenticate')).toBe('callback: failed to get state');
    expect(await oidcSessions(s)).toEqual([]);
  });

  it('refuses a replayed callback, and a used code presented with a fresh login', async () => {
    const s = await setup();
    const { browser, callback } = await login(s);
    expect(callback.status).toBe(302);

    const replay = await browser.request(callback.url);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toEqual({ code: 3, message: 'callback: missing challenge', details: [] });

    const fresh = new URL(await authorizeUrl(browser, s.base));
    const reused = new URL(callback.url);
    reused.searchParams.set('state', fresh.searchParams.get('state') ?? '');
    const page = await browser.request(reused.href);
    expect(page.status).toBe(401);
    expect(JSON.parse(page.body)).toEqual({
      code: 16,
      message: 'callback: code exchange failed',
      details: [],
    });
    expect(await oidcSessions(s)).toHaveLength(1);
  });

  it('refuses an ID token whose nonce is not the one portcullis sent', async () => {
    const s = await setup();
    const browser = s.browser();
    const url = new URL(await authorizeUrl(browser, s.base));
    url.searchParams.set('nonce', 'substituted-by-an-attacker');
    const page = await signIn(browser, url.href);
    expect(page.status).toBe(401);
    expect(JSON.parse(page.body).message).toBe('callback: code exchange failed');
    expect(await oidcSessions(s)).toEqual([]);
  });

  it('refuses a code bound to another PKCE challenge (the verifier does not match)', async () => {
    const s = await setup({ providers: { main: { use_pkce: true } } });
    const browser = s.browser();
    const url = new URL(await authorizeUrl(browser, s.base));
    url.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const page = await signIn(browser, url.href);
    expect(page.status).toBe(401);
    expect(JSON.parse(page.body).message).toBe('callback: code exchange failed');
    expect(await oidcSessions(s)).toEqual([]);
  });

  it('refuses at login an email that email_matches does not allow, and such a session on every request', async () => {
    const s = await setup({ oidc: { email_matches: ['@flipt\\.io$'] } });
    const refused = await login(s, 'main', 'eve');
    expect(refused.callback.status).toBe(403);
    expect(JSON.parse(refused.callback.body)).toEqual({
      code: 7,
      message: 'callback: email is not allowed',
      details: [],
    });
    expect(tokenCookie(refused.callback)).toBeUndefined();
    expect(await oidcSessions(s)).toEqual([]);

    const allowed = await login(s, 'main', 'mark');
    expect((await self(allowed.browser, s.base)).status).toBe(200);

    // A session created before the rule (or by another instance without it) is refused on each request, as in Flipt.
    const { clientToken } = await s.t.server.runtime.store.createAuthentication({
      method: 'METHOD_OIDC',
      expiresAt: new Date(Date.now() + 60_000),
      metadata: { 'io.flipt.auth.oidc.email': 'eve@evil.example' },
    });
    const response = await s.t.fetch('/auth/v1/self', { headers: bearer(clientToken) });
    expect(response.status).toBe(401);
    await vi.waitFor(() =>
      expect(s.t.logs).toContainEqual(
        expect.objectContaining({ reason: 'email_not_allowed', detail: 'oidc: email is not allowed' }),
      ),
    );
  });

  it('answers 400 for an unknown provider and 503 when the provider cannot be reached', async () => {
    const s = await setup();
    const browser = s.browser();
    const unknown = await browser.request(`${s.base}/auth/v1/method/oidc/nope/authorize`);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toEqual({
      code: 3,
      message: 'authorize: unknown provider',
      details: [],
    });
    await s.op.close();
    const down = await browser.request(`${s.base}/auth/v1/method/oidc/main/authorize`);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({
      code: 14,
      message: 'authorize: failed get provider',
      details: [],
    });
  });
});

describe('oidc: logging out', () => {
  it('RP-initiated: revoke returns nextUri, the session ends here, and following it ends the provider’s', async () => {
    const s = await setup({ providers: { main: { use_end_session_endpoint: true } } });
    const { browser } = await login(s);
    const revoke = await browser.request(`${s.base}/auth/v1/self/revoke`, { method: 'DELETE' });
    expect(revoke.status).toBe(200);
    const { nextUri } = JSON.parse(revoke.body) as { nextUri: string };
    const next = new URL(nextUri);
    expect(`${next.origin}${next.pathname}`).toBe(`${s.op.issuer}/session/end`);
    expect(next.searchParams.get('post_logout_redirect_uri')).toBe(s.base);
    expect(next.searchParams.get('id_token_hint')?.split('.')).toHaveLength(3);
    expect((await self(browser, s.base)).status).toBe(401);
    expect(await oidcSessions(s)).toEqual([]);

    // At the provider: confirm the logout, land back on portcullis.
    const confirm = await browser.navigate(nextUri);
    const done = await browser.submit(formsOf(confirm)[0] as never, { logout: 'yes' }, (page) =>
      page.url.startsWith(s.base),
    );
    expect(new URL(done.url).href).toBe(new URL(s.base).href);
    // The provider's session is over: a new login asks for the password again.
    const again = await browser.navigate(await authorizeUrl(browser, s.base), {}, atCallback);
    expect(formsOf(again)[0]?.fields.prompt).toBe('login');
  });

  it('without use_end_session_endpoint, revoke ends the session and returns {}', async () => {
    const s = await setup();
    const { browser } = await login(s);
    const revoke = await browser.request(`${s.base}/auth/v1/self/revoke`, { method: 'DELETE' });
    expect(JSON.parse(revoke.body)).toEqual({});
    expect((await self(browser, s.base)).status).toBe(401);
  });

  it('back-channel: the provider posts a logout token and the session ends', async () => {
    const s = await setup();
    const { browser } = await login(s);
    const other = await login(s, 'main', 'george');
    expect((await self(browser, s.base)).status).toBe(200);

    // Log out at the provider itself (not through portcullis): it notifies portcullis server to server.
    const confirm = await browser.navigate(`${s.op.issuer}/session/end`);
    await browser.submit(formsOf(confirm)[0] as never, { logout: 'yes' });
    await vi.waitFor(async () => expect((await self(browser, s.base)).status).toBe(401));
    // Only that user's session: the other one is untouched.
    expect((await self(other.browser, s.base)).status).toBe(200);
    expect(s.t.logs).toContainEqual(expect.objectContaining({ msg: 'back-channel logout', sessions: 1 }));
  });

  it('back-channel: checks every part of the logout token, and uses each one once', async () => {
    const key = await signingKey('key-1');
    const s = await setup({ provider: { keys: [key] } });
    const { browser } = await login(s);
    const post = (body: string, type = 'application/x-www-form-urlencoded') =>
      s.t.fetch('/auth/v1/method/oidc/main/revoke', {
        method: 'POST',
        body,
        headers: { 'content-type': type },
      });
    const now = Math.floor(Date.now() / 1000);
    const good = {
      iss: s.op.issuer,
      aud: 'client-main',
      iat: now,
      exp: now + 120,
      jti: 'logout-1',
      sub: 'mark',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    };
    const sign = async (
      claims: Record<string, unknown>,
      header: Record<string, unknown> = {},
      signer = key,
    ) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: signer.kid as string, typ: 'logout+jwt', ...header })
        .sign(await importJWK(signer, 'RS256'));
    const without = (name: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== name));
    const stranger = await signingKey('key-1');
    const forged: Array<[string, Promise<string> | string]> = [
      ['no token', ''],
      ['not a JWT', 'not-a-jwt'],
      [
        'unsigned',
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`,
      ],
      ['another issuer', sign({ ...good, iss: 'https://evil.example' })],
      ['another audience', sign({ ...good, aud: 'someone-else' })],
      ['no event', sign(without('events'))],
      ['another event', sign({ ...good, events: { 'urn:other': {} } })],
      ['a nonce', sign({ ...good, nonce: 'n' })],
      ['no jti', sign(without('jti'))],
      ['no exp', sign(without('exp'))],
      ['expired', sign({ ...good, iat: now - 600, exp: now - 300 })],
      ['too old', sign({ ...good, iat: now - 3600, exp: now + 3600 })],
      ['a wrong typ', sign(good, { typ: 'JWT+id' })],
      ['a key not in the JWKS', sign(good, {}, stranger)],
    ];
    for (const [what, token] of forged) {
      const response = await post(`logout_token=${await token}`);
      expect(await response.json(), what).toEqual({
        code: 3,
        message: 'revoke: invalid logout token',
        details: [],
      });
    }
    const anonymous = await post(`logout_token=${await sign({ ...without('sub'), jti: 'anonymous' })}`);
    expect(await anonymous.json()).toEqual({
      code: 3,
      message: 'revoke: operation requires sid or sub',
      details: [],
    });
    const large = await post(`logout_token=${'x'.repeat(5000)}`);
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ code: 8, message: 'Request body is too large' });
    expect((await self(browser, s.base)).status).toBe(200);

    // A good one, as JSON (grpc-gateway's other body form), ends the session; the same token again is refused.
    const token = await sign(good);
    const accepted = await post(JSON.stringify({ logoutToken: token }), 'application/json');
    expect(accepted.status).toBe(200);
    expect(accepted.headers.get('cache-control')).toBe('no-store');
    expect((await self(browser, s.base)).status).toBe(401);
    expect(await (await post(`logout_token=${token}`)).json()).toMatchObject({
      message: 'revoke: invalid logout token',
    });
  });

  it('front-channel: GET revoke with iss and sid ends that session and clears cookies (HTTPS, session.secure)', async () => {
    const ca = createTestCa(join(tempDir(), 'ca'));
    const s = await setup({
      ca,
      session: { secure: true },
      providers: { main: { allow_front_channel_logout: true }, closed: {} },
    });
    const { browser } = await login(s);
    const [session] = await oidcSessions(s);
    const sid = JSON.parse(session?.metadata['io.flipt.auth.claims'] ?? '{}').sid as string;
    expect(sid).toBeTruthy();

    const revoke = (query: string, provider = 'main') =>
      browser.request(`${s.base}/auth/v1/method/oidc/${provider}/revoke${query}`);
    const mismatch = await revoke(`?iss=${encodeURIComponent('https://evil.example')}&sid=${sid}`);
    expect(JSON.parse(mismatch.body)).toEqual({ code: 3, message: 'revoke: issuer mismatch', details: [] });
    const disabled = await revoke(`?iss=${encodeURIComponent(s.op.issuer)}&sid=${sid}`, 'closed');
    expect(JSON.parse(disabled.body)).toEqual({
      code: 3,
      message: 'revoke: operation disabled',
      details: [],
    });
    // Without iss, nothing ends; the cookies are cleared all the same, as Flipt's middleware does.
    expect((await revoke('?sid=only')).status).toBe(200);
    expect(await oidcSessions(s)).toHaveLength(1);

    const done = await revoke(`?iss=${encodeURIComponent(s.op.issuer)}&sid=${sid}`);
    expect(done.status).toBe(200);
    expect(done.headers.get('cache-control')).toBe('no-store');
    expect(done.headers.getSetCookie()).toEqual([
      'flipt_client_token=; Path=/; Domain=localhost; Max-Age=0; HttpOnly; Secure; SameSite=None',
      'flipt_client_state=; Path=/; Domain=localhost; Max-Age=0; HttpOnly; Secure; SameSite=None',
    ]);
    expect(await oidcSessions(s)).toEqual([]);
    // Anyone can send these; a flood of them is cut short rather than scanning the sessions each time.
    const flood = await Promise.all(
      Array.from({ length: 60 }, (_, i) => revoke(`?iss=${encodeURIComponent(s.op.issuer)}&sid=flood-${i}`)),
    );
    expect(flood.filter((page) => page.status === 429).length).toBeGreaterThan(0);
    expect(JSON.parse(flood.find((page) => page.status === 429)?.body ?? '{}')).toEqual({
      code: 8,
      message: 'revoke: too many logout requests',
      details: [],
    });
    const unsupported = await browser.request(`${s.base}/auth/v1/method/oidc/main/revoke`, { method: 'PUT' });
    expect(JSON.parse(unsupported.body)).toEqual({
      code: 3,
      message: 'revoke: unsupported http method',
      details: [],
    });
  });
});

describe('oidc: sessions kept in Redis', () => {
  it('logs in, challenges and sessions go through Redis, and back-channel logout finds the session there', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.kill());
    const s = await setup({
      session: { storage: { type: 'redis', redis: { host: redis.host, port: redis.port } } },
    });
    const { browser, callback } = await login(s);
    expect(callback.status).toBe(302);
    expect(JSON.parse((await self(browser, s.base)).body)).toMatchObject({ method: 'METHOD_OIDC' });
    // The same callback again: its challenge was taken from Redis once and for all.
    expect((await browser.request(callback.url)).status).toBe(400);

    const confirm = await browser.navigate(`${s.op.issuer}/session/end`);
    await browser.submit(formsOf(confirm)[0] as never, { logout: 'yes' });
    await vi.waitFor(async () => expect((await self(browser, s.base)).status).toBe(401));
  });
});
