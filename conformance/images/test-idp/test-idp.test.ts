import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Browser, type BrowserOptions, formsOf, type Page } from '../../../core/test-support/browser.ts';
import { freePort, retryOnPortClash } from '../../../core/test-support/ports.ts';
import { serveForTest, type TestServer } from '../../../core/test-support/server.ts';
import { createTestCa } from '../../../core/test-support/tls.ts';
import { tempDir } from '../../../core/test-support/tmp.ts';
import { IdpStepError, testIdpDriver } from '../../suites/support/idp-drivers.ts';
import { type IdpClient, type IdpFixture, type IdpUser, readFixture } from './fixture.ts';
import { startTestIdp, type TestIdp } from './server.ts';

const FIXTURE_PATH = new URL('../../fixtures/idp.json', import.meta.url).pathname;
const FIXTURE = readFixture(FIXTURE_PATH);
/** portcullis as the suites' network names it in the fixture's redirect URIs. */
const SUITE_PORTCULLIS = 'http://portcullis:8080';

function user(email: string): IdpUser {
  const found = FIXTURE.users.find((candidate) => candidate.email === email);
  if (found === undefined) throw new Error(`no ${email} in ${FIXTURE_PATH}`);
  return found;
}
const ada = user('ada@example.com');
const grace = user('grace@example.com');
const mallory = user('mallory@example.org');

interface Setup {
  readonly idp: TestIdp;
  readonly t: TestServer;
  /** Where portcullis listens (its redirect address). */
  readonly base: string;
  browser(options?: BrowserOptions): Browser;
}

/**
 * The test IdP and portcullis in process. portcullis cannot resolve `idp` here, so the IdP keeps its own address
 * as issuer (`http://127.0.0.1:<port>/dex`, the `/dex` mount kept), and the fixture's redirect URIs are moved from
 * `http://portcullis:8080` to where portcullis listens; clients, users and passwords are the fixture's. Providers
 * `dex` (no PKCE) and `dexpkce` (`use_pkce`), as the suites configure them.
 */
function setup(oidc: Record<string, unknown> = {}): Promise<Setup> {
  return retryOnPortClash(async () => {
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const local = (uri: string) => uri.replace(SUITE_PORTCULLIS, base);
    const fixture: IdpFixture = {
      ...FIXTURE,
      clients: FIXTURE.clients.map((client) => ({
        ...client,
        redirectURIs: client.redirectURIs.map(local),
        postLogoutRedirectURIs: client.postLogoutRedirectURIs.map(local),
      })),
    };
    const idp = await startTestIdp({ fixture });
    onTestFinished(() => idp.close());
    const client = (provider: string) => {
      const found = fixture.clients.find((candidate) =>
        candidate.redirectURIs.includes(`${base}/auth/v1/method/oidc/${provider}/callback`),
      );
      if (found === undefined) throw new Error(`the fixture has no client for provider ${provider}`);
      return { client_id: found.id, client_secret: found.secret };
    };
    const provider = (name: string, extra: Record<string, unknown> = {}) => ({
      issuer_url: idp.issuer,
      ...client(name),
      redirect_address: base,
      scopes: ['email', 'profile', 'groups'],
      use_end_session_endpoint: true,
      ...extra,
    });
    const t = await serveForTest({
      server: { host: 'localhost', http_port: port },
      authentication: {
        required: true,
        session: { domain: 'localhost' },
        methods: {
          oidc: {
            enabled: true,
            ...oidc,
            providers: { dex: provider('dex'), dexpkce: provider('dexpkce', { use_pkce: true }) },
          },
        },
      },
    });
    const browser = (options?: BrowserOptions) => {
      const created = new Browser(options);
      onTestFinished(() => created.close());
      return created;
    };
    return { idp, t, base, browser };
  });
}

async function authorizeUrl(browser: Browser, base: string, provider: string): Promise<string> {
  const page = await browser.request(`${base}/auth/v1/method/oidc/${provider}/authorize`);
  expect(page.status).toBe(200);
  return (JSON.parse(page.body) as { authorizeUrl: string }).authorizeUrl;
}

/** Logs in through the driver and requests the callback it stops at. */
async function login(s: Setup, browser: Browser, provider: string, who: IdpUser): Promise<Page> {
  const atIdp = await testIdpDriver.login(browser, await authorizeUrl(browser, s.base, provider), who);
  return browser.request(new URL(atIdp.headers.get('location') ?? '', atIdp.url).href);
}

async function self(
  browser: Browser,
  base: string,
): Promise<{ status: number; metadata: Record<string, string> }> {
  const page = await browser.request(`${base}/auth/v1/self`);
  const body = JSON.parse(page.body) as { metadata?: Record<string, string> };
  return { status: page.status, metadata: body.metadata ?? {} };
}

describe('test IdP: portcullis logs in through it with the test-IdP driver', () => {
  it('logs in without and with PKCE; /auth/v1/self shows the email, name and groups', async () => {
    const s = await setup();
    for (const [provider, who, pkce] of [
      ['dex', ada, false],
      ['dexpkce', grace, true],
    ] as const) {
      const browser = s.browser();
      const url = new URL(await authorizeUrl(browser, s.base, provider));
      expect(`${url.origin}${url.pathname}`).toBe(`${s.idp.issuer}/auth`);
      expect(url.searchParams.get('code_challenge_method')).toBe(pkce ? 'S256' : null);

      const atIdp = await testIdpDriver.login(browser, url.href, who);
      expect(atIdp.url.startsWith(s.idp.issuer)).toBe(true);
      const callback = await browser.request(new URL(atIdp.headers.get('location') ?? '', atIdp.url).href);
      expect(callback.status).toBe(302);
      expect(callback.headers.getSetCookie().some((cookie) => cookie.startsWith('flipt_client_token='))).toBe(
        true,
      );

      const me = await self(browser, s.base);
      expect(me.status).toBe(200);
      expect(me.metadata).toMatchObject({
        'io.flipt.auth.oidc.provider': provider,
        'io.flipt.auth.oidc.email': who.email,
        'io.flipt.auth.email': who.email,
        'io.flipt.auth.oidc.email_verified': 'true',
        'io.flipt.auth.oidc.name': who.username,
        'io.flipt.auth.oidc.sub': who.userID,
      });
      expect(JSON.parse(me.metadata['io.flipt.auth.claims'] ?? '{}')).toMatchObject({
        iss: s.idp.issuer,
        preferred_username: who.username,
        groups: who.groups,
      });
    }
  });

  it('email_matches refuses the user of another domain at login, and admits the allowed one', async () => {
    const s = await setup({ email_matches: ['@example\\.com$'] });
    const refused = await login(s, s.browser(), 'dex', mallory);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({
      code: 7,
      message: 'callback: email is not allowed',
      details: [],
    });
    expect(refused.headers.getSetCookie().some((cookie) => cookie.startsWith('flipt_client_token='))).toBe(
      false,
    );

    const browser = s.browser();
    expect((await login(s, browser, 'dex', ada)).status).toBe(302);
    expect((await self(browser, s.base)).metadata['io.flipt.auth.email']).toBe(ada.email);
  });

  it('a wrong password shows the form again with an error; the right one then goes through', async () => {
    const s = await setup();
    const browser = s.browser();
    const url = await authorizeUrl(browser, s.base, 'dex');
    const error = await testIdpDriver.login(browser, url, { email: ada.email, password: 'wrong' }).then(
      () => undefined,
      (rejected: unknown) => rejected,
    );
    expect(error).toBeInstanceOf(IdpStepError);
    const { step, page, message } = error as IdpStepError;
    expect(step).toBe('submit the login form');
    expect(message).toMatch(
      /^test-idp: submit the login form: expected a redirect to the callback, found the login/,
    );
    expect(message).toContain('Invalid Email Address and password.');
    expect(page?.status).toBe(200);
    expect(page?.body).toContain('id="login-error"');
    const [form] = formsOf(page as Page);
    expect(form?.fields.login).toBe(ada.email);

    // An unknown email is refused the same way (in another browser: a new authorize would replace this one's state).
    const other = s.browser();
    await expect(
      testIdpDriver.login(other, await authorizeUrl(other, s.base, 'dex'), {
        email: 'nobody@example.com',
        password: ada.password,
      }),
    ).rejects.toThrow(/found the login form again/);

    // The re-shown form is a live one: the right password on it finishes the login.
    const done = await browser.submit(form as NonNullable<typeof form>, { password: ada.password }, (next) =>
      (next.headers.get('location') ?? '').includes('/callback?'),
    );
    const callback = await browser.request(new URL(done.headers.get('location') ?? '', done.url).href);
    expect(callback.status).toBe(302);
    expect((await self(browser, s.base)).status).toBe(200);
  });

  it('names the step and the page when the IdP answers something unexpected', async () => {
    const s = await setup();
    const url = new URL(await authorizeUrl(s.browser(), s.base, 'dex'));
    url.searchParams.set('client_id', 'unknown-client');
    await expect(testIdpDriver.login(s.browser(), url.href, ada)).rejects.toThrow(
      /^test-idp: open the login page: expected a form with login and password fields, found 400 at http:\/\/127\.0\.0\.1:\d+\/dex\/auth\?.*: ".*invalid_client/,
    );
    await s.idp.close();
    await expect(testIdpDriver.login(s.browser(), url.href, ada)).rejects.toThrow(
      /^test-idp: open the authorization URL: request failed: TypeError: fetch failed/,
    );
  });

  it('RP-initiated logout: the IdP confirms, ends its session and redirects to the post-logout URI', async () => {
    const s = await setup();
    const browser = s.browser();
    expect((await login(s, browser, 'dex', ada)).status).toBe(302);
    // With a session at the IdP, a second login goes straight to the callback.
    const again = await testIdpDriver.login(browser, await authorizeUrl(browser, s.base, 'dex'), ada);
    expect(again.headers.get('location')).toContain('/callback?');

    const revoke = await browser.request(`${s.base}/auth/v1/self/revoke`, { method: 'DELETE' });
    expect(revoke.status).toBe(200);
    const { nextUri } = JSON.parse(revoke.body) as { nextUri: string };
    expect(nextUri.startsWith(`${s.idp.issuer}/logout?`)).toBe(true);
    const logout = testIdpDriver.logout;
    if (logout === undefined) throw new Error('the test-IdP driver has no logout');
    const done = await logout(browser, nextUri);
    expect(done.status).toBe(303);
    // oidc-provider writes the registered URI as a URL (`http://host:port/`); portcullis sent it without the slash.
    expect(new URL(done.headers.get('location') ?? '').href).toBe(new URL(s.base).href);
    expect((await self(browser, s.base)).status).toBe(401);

    // The IdP's session ended too: the next login asks for the password.
    const page = await browser.navigate(await authorizeUrl(browser, s.base, 'dex'));
    expect(formsOf(page)[0]?.fields).toHaveProperty('password');
  });

  it('holds a code to its PKCE challenge (S256) when one was sent, and needs none otherwise', async () => {
    const idp = await startTestIdp({ fixture: FIXTURE });
    onTestFinished(() => idp.close());
    const [plain, pkce] = FIXTURE.clients;
    if (plain === undefined || pkce === undefined) throw new Error('the fixture needs two clients');
    const verifier = 'a-verifier-of-at-least-forty-three-characters-0123456789';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    /** A code for `client`, from a fresh browser's login. */
    const code = async (client: IdpClient, extra: Record<string, string> = {}) => {
      const url = new URL(`${idp.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: client.id,
        redirect_uri: client.redirectURIs[0] ?? '',
        response_type: 'code',
        scope: 'openid',
        ...extra,
      }).toString();
      const browser = new Browser();
      onTestFinished(() => browser.close());
      const atIdp = await testIdpDriver.login(browser, url.href, ada);
      return new URL(atIdp.headers.get('location') ?? '').searchParams.get('code') ?? '';
    };
    const exchange = async (client: IdpClient, codeValue: string, extra: Record<string, string> = {}) => {
      const response = await fetch(`${idp.issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: codeValue,
          redirect_uri: client.redirectURIs[0] ?? '',
          ...extra,
        }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const challenged = { code_challenge: challenge, code_challenge_method: 'S256' };
    expect((await exchange(pkce, await code(pkce, challenged))).body.error).toBe('invalid_grant');
    expect(
      (await exchange(pkce, await code(pkce, challenged), { code_verifier: `${verifier}-wrong` })).body.error,
    ).toBe('invalid_grant');
    const good = await exchange(pkce, await code(pkce, challenged), { code_verifier: verifier });
    expect(good.status).toBe(200);
    expect(good.body.id_token).toEqual(expect.any(String));
    expect((await exchange(plain, await code(plain))).status).toBe(200);
  });

  it('serves nothing outside its issuer path, and its discovery names the issuer and Dex’s endpoint paths', async () => {
    const idp = await startTestIdp({ fixture: FIXTURE });
    onTestFinished(() => idp.close());
    const root = `http://127.0.0.1:${idp.port}`;
    expect((await fetch(`${root}/.well-known/openid-configuration`)).status).toBe(404);
    const discovery = (await (
      await fetch(`${idp.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({
      issuer: `${root}/dex`,
      authorization_endpoint: `${root}/dex/auth`,
      token_endpoint: `${root}/dex/token`,
      jwks_uri: `${root}/dex/keys`,
      userinfo_endpoint: `${root}/dex/userinfo`,
      end_session_endpoint: `${root}/dex/logout`,
      code_challenge_methods_supported: ['S256'],
    });
    expect(discovery.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'email', 'profile', 'groups']),
    );
  });
});

describe('test IdP: main.ts, the image entry point', () => {
  it('prints {"issuer", "port"} once it listens, serves the fixture, and exits 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--experimental-strip-types',
        '--disable-warning=ExperimentalWarning',
        new URL('./main.ts', import.meta.url).pathname,
        '--fixture',
        FIXTURE_PATH,
        '--issuer',
        'http://idp:5556/dex',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const [line] = await createInterface({ input: child.stdout })
      [Symbol.asyncIterator]()
      .next()
      .then((next) => [next.value as string | undefined]);
    expect(stderr).toBe('');
    const { issuer, port } = JSON.parse(line ?? '{}') as { issuer: string; port: number };
    expect(issuer).toBe('http://idp:5556/dex');

    // Reached under its network name, with the socket mapped to where it listens: the URLs it writes are idp's.
    const browser = new Browser({ hosts: { 'idp:5556': `127.0.0.1:${port}` } });
    onTestFinished(() => browser.close());
    const discovery = await browser.request('http://idp:5556/dex/.well-known/openid-configuration');
    expect(JSON.parse(discovery.body)).toMatchObject({
      issuer: 'http://idp:5556/dex',
      authorization_endpoint: 'http://idp:5556/dex/auth',
    });
    const client = FIXTURE.clients[0];
    const authorize = new URL('http://idp:5556/dex/auth');
    authorize.search = new URLSearchParams({
      client_id: client?.id ?? '',
      redirect_uri: client?.redirectURIs[0] ?? '',
      response_type: 'code',
      scope: 'openid email',
      state: 'state-1',
      nonce: 'nonce-1',
    }).toString();
    const atIdp = await testIdpDriver.login(browser, authorize.href, ada);
    const callback = new URL(atIdp.headers.get('location') ?? '');
    expect(`${callback.origin}${callback.pathname}`).toBe(client?.redirectURIs[0]);
    expect(callback.searchParams.get('state')).toBe('state-1');
    expect(callback.searchParams.get('iss')).toBe('http://idp:5556/dex');
    expect(await browser.cookie('http://idp:5556/dex/auth', '_session')).toBeDefined();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('Browser hosts: the socket goes to the mapped address, everything else stays the URL’s', () => {
  const echo = (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('set-cookie', 'seen=1; Path=/');
    res.end(JSON.stringify({ host: req.headers.host, cookie: req.headers.cookie ?? null }));
  };
  const listen = async (server: ReturnType<typeof createHttpServer>) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as AddressInfo).port;
  };

  it('HTTP: Host header, URL and cookies are the mapped name; unmapped hosts resolve as usual', async () => {
    const port = await listen(createHttpServer(echo));
    const browser = new Browser({
      hosts: { 'idp:5556': `127.0.0.1:${port}`, 'portcullis:80': `127.0.0.1:${port}` },
    });
    onTestFinished(() => browser.close());
    const first = await browser.request('http://idp:5556/a');
    expect(first.url).toBe('http://idp:5556/a');
    expect(JSON.parse(first.body)).toEqual({ host: 'idp:5556', cookie: null });
    expect(JSON.parse((await browser.request('http://idp:5556/b')).body)).toEqual({
      host: 'idp:5556',
      cookie: 'seen=1',
    });
    // A URL without a port is mapped by its default port, and keeps its own cookies.
    expect(JSON.parse((await browser.request('http://portcullis/')).body)).toEqual({
      host: 'portcullis',
      cookie: null,
    });
    // Not mapped: connected as written.
    expect(JSON.parse((await browser.request(`http://127.0.0.1:${port}/`)).body).host).toBe(
      `127.0.0.1:${port}`,
    );
    // Another port of a mapped name is not mapped (idp does not resolve here).
    await expect(browser.request('http://idp:5557/')).rejects.toThrow();
  });

  it('HTTPS: the certificate is checked against the name in the URL, not the mapped address', async () => {
    const ca = createTestCa(tempDir());
    const issued = ca.issue(['idp'], 'idp');
    const port = await listen(createHttpsServer({ cert: issued.certPem, key: issued.keyPem }, echo));
    const browser = new Browser({ ca: ca.caPem, hosts: { 'idp:443': `127.0.0.1:${port}` } });
    onTestFinished(() => browser.close());
    expect(JSON.parse((await browser.request('https://idp/')).body).host).toBe('idp');

    const wrong = ca.issue(['other'], 'other');
    const otherPort = await listen(createHttpsServer({ cert: wrong.certPem, key: wrong.keyPem }, echo));
    const strict = new Browser({ ca: ca.caPem, hosts: { 'idp:443': `127.0.0.1:${otherPort}` } });
    onTestFinished(() => strict.close());
    await expect(strict.request('https://idp/')).rejects.toThrow();
  });

  it('refuses a mapping without a port when the browser is made', () => {
    expect(() => new Browser({ hosts: { 'idp:5556': '127.0.0.1' } })).toThrow(/needs a port/);
  });
});
