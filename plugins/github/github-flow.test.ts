import { describe, expect, it, onTestFinished } from 'vitest';
import { type FakeGitHub, type Layout, startFakeGitHub } from '../../conformance/fake-github/fake-github.ts';
import { readFixture } from '../../conformance/fake-github/fixture.ts';
import { Browser, formsOf, type Page } from '../../core/test-support/browser.ts';
import { freePort, retryOnPortClash } from '../../core/test-support/ports.ts';
import { bearer, serveForTest, type TestServer } from '../../core/test-support/server.ts';

const fixture = readFixture(new URL('../../conformance/fake-github/fixture.json', import.meta.url).pathname);

interface Setup {
  readonly fake: FakeGitHub;
  readonly t: TestServer;
  readonly base: string;
  browser(): Browser;
}

type SetupOptions = { layout?: Layout; github?: Record<string, unknown> };

/** The fake GitHub and portcullis, on a port both know in advance (tried again if another test takes it). */
function setup(options: SetupOptions = {}): Promise<Setup> {
  return retryOnPortClash(() => setupOnce(options));
}

async function setupOnce(options: SetupOptions): Promise<Setup> {
  const layout = options.layout ?? 'github.com';
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const fake = await startFakeGitHub({
    layout,
    fixture: {
      ...fixture,
      apps: [
        {
          client_id: 'portcullis-app',
          client_secret: 'gh-secret',
          callback_url: `${base}/auth/v1/method/github/callback`,
        },
      ],
    },
  });
  onTestFinished(() => fake.close());
  const t = await serveForTest({
    server: { host: 'localhost', http_port: port },
    authentication: {
      required: true,
      session: { domain: 'localhost' },
      methods: {
        token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } },
        github: {
          enabled: true,
          client_id: 'portcullis-app',
          client_secret: 'gh-secret',
          redirect_address: base,
          server_url: fake.serverUrl,
          // github.com: the API on its own host; Enterprise: derived as <server_url>/api/v3.
          ...(layout === 'github.com' && { api_url: fake.apiUrl }),
          scopes: ['user:email', 'read:org'],
          ...options.github,
        },
      },
    },
  });
  return {
    fake,
    t,
    base,
    browser() {
      const browser = new Browser();
      onTestFinished(() => browser.close());
      return browser;
    },
  };
}

const redirectsToCallback = (page: Page) => page.headers.get('location')?.includes('/callback?') === true;

/** authorize → GitHub's login page → the redirect to portcullis' callback (not yet followed). */
async function toCallback(s: Setup, browser: Browser, login: string): Promise<string> {
  const authorize = await browser.request(`${s.base}/auth/v1/method/github/authorize`);
  const { authorizeUrl } = JSON.parse(authorize.body) as { authorizeUrl: string };
  const loginPage = await browser.navigate(authorizeUrl, {}, redirectsToCallback);
  const [form] = formsOf(loginPage);
  if (form === undefined) throw new Error(`no login form at ${loginPage.url}: ${loginPage.status}`);
  const redirect = await browser.submit(form, { login, password: 'any' }, redirectsToCallback);
  return new URL(redirect.headers.get('location') ?? '', redirect.url).href;
}

async function login(s: Setup, user: string): Promise<{ browser: Browser; callback: Page }> {
  const browser = s.browser();
  const callback = await browser.request(await toCallback(s, browser, user));
  return { browser, callback };
}

async function metadataOf(s: Setup, browser: Browser): Promise<Record<string, string>> {
  const self = await browser.request(`${s.base}/auth/v1/self`);
  expect(self.status).toBe(200);
  return (JSON.parse(self.body) as { metadata: Record<string, string> }).metadata;
}

async function githubSessions(s: Setup): Promise<unknown[]> {
  const response = await s.t.fetch('/auth/v1/tokens?method=METHOD_GITHUB', {
    headers: bearer('admin-secret'),
  });
  return ((await response.json()) as { authentications: unknown[] }).authentications;
}

const error = (page: Page) => JSON.parse(page.body) as { code: number; message: string };

describe.each(['github.com', 'enterprise'] as const)('github: logging in (%s URL layout)', (layout) => {
  it('authorize → GitHub’s login page → callback → cookie → /auth/v1/self, with Flipt’s metadata', async () => {
    const s = await setup({ layout });
    const { browser, callback } = await login(s, 'octocat');
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe('/');
    expect(callback.headers.getSetCookie().find((c) => c.startsWith('flipt_client_token='))).toMatch(
      /; Path=\/; Domain=localhost; Expires=[^;]+; HttpOnly; SameSite=Strict$/,
    );
    expect(JSON.parse(callback.body)).toMatchObject({
      clientToken: '',
      authentication: { method: 'METHOD_GITHUB' },
    });
    expect(await metadataOf(s, browser)).toEqual({
      'io.flipt.auth.github.email': 'octocat@github.com',
      'io.flipt.auth.email': 'octocat@github.com',
      'io.flipt.auth.github.name': 'The Octocat',
      'io.flipt.auth.name': 'The Octocat',
      'io.flipt.auth.github.picture': 'https://avatars.githubusercontent.com/u/583231?v=4',
      'io.flipt.auth.picture': 'https://avatars.githubusercontent.com/u/583231?v=4',
      'io.flipt.auth.github.sub': '583231',
      'io.flipt.auth.github.preferred_username': 'octocat',
      'io.flipt.auth.github.organizations': '["octo-org","other-org"]',
      'io.flipt.auth.github.teams': '{"octo-org":["flipt-admins","readers"],"other-org":["crew"]}',
      'io.flipt.auth.github.all_teams': '{"octo-org":["flipt-admins","readers"],"other-org":["crew"]}',
    });
    const apiPaths = s.fake.apiRequests.map((r) => r.path);
    expect(apiPaths).toEqual(expect.arrayContaining(['/user', '/user/orgs', '/user/teams']));
  });
});

describe('github: the authorization URL and PKCE', () => {
  it('asks GitHub with Flipt’s parameters, and with PKCE (S256) only when use_pkce', async () => {
    const s = await setup({ github: { use_pkce: true } });
    const browser = s.browser();
    const authorize = await browser.request(`${s.base}/auth/v1/method/github/authorize?state=ui`);
    const url = new URL((JSON.parse(authorize.body) as { authorizeUrl: string }).authorizeUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${s.fake.serverUrl}/login/oauth/authorize`);
    expect([...url.searchParams.keys()]).toEqual([
      'client_id',
      'code_challenge',
      'code_challenge_method',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
    ]);
    expect(url.searchParams.get('redirect_uri')).toBe(`${s.base}/auth/v1/method/github/callback`);
    expect(url.searchParams.get('scope')).toBe('user:email read:org');
    expect(authorize.headers.getSetCookie()[0]).toContain('; Path=/auth/v1/method/github/callback;');
    expect((await login(s, 'octocat')).callback.status).toBe(302);
  });

  it('refuses a code whose PKCE challenge was swapped on the way to GitHub', async () => {
    const s = await setup({ github: { use_pkce: true } });
    const browser = s.browser();
    const authorize = await browser.request(`${s.base}/auth/v1/method/github/authorize`);
    const url = new URL((JSON.parse(authorize.body) as { authorizeUrl: string }).authorizeUrl);
    url.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const loginPage = await browser.navigate(url.href, {}, redirectsToCallback);
    const redirect = await browser.submit(
      formsOf(loginPage)[0] as never,
      { login: 'octocat' },
      redirectsToCallback,
    );
    const callback = await browser.request(new URL(redirect.headers.get('location') ?? '').href);
    expect(callback.status).toBe(401);
    expect(error(callback).message).toBe('callback: code exchange failed');
    expect(await githubSessions(s)).toEqual([]);
  });

  it('refuses a second use of a PKCE login (its verifier is gone): missing or expired oauth challenge', async () => {
    const s = await setup({ github: { use_pkce: true } });
    const browser = s.browser();
    const target = await toCallback(s, browser, 'octocat');
    expect((await browser.request(target)).status).toBe(302);
    const again = await browser.request(target);
    expect(error(again)).toMatchObject({ code: 16, message: 'missing or expired oauth challenge' });
  });

  it('never writes the client secret or a GitHub access token into the logs', async () => {
    const s = await setup({ github: { allowed_organizations: ['nobody'] } });
    await login(s, 'octocat');
    s.fake.fault('/user', { status: 500 });
    await login(s, 'octocat');
    const logs = JSON.stringify(s.t.logs);
    expect(logs).toContain('login refused');
    expect(logs).not.toContain('gh-secret');
    expect(logs).not.toMatch(/gho_[A-Za-z0-9]{36}/);
  });

  it('refuses a callback without state, without the state cookie, or with another login’s state', async () => {
    const s = await setup();
    const browser = s.browser();
    const target = new URL(await toCallback(s, browser, 'octocat'));
    const stranger = s.browser();
    expect(error(await stranger.request(target.href))).toMatchObject({
      code: 16,
      message: 'missing client state in metadata',
    });
    const noState = new URL(target);
    noState.searchParams.delete('state');
    expect(error(await browser.request(noState.href)).message).toBe('missing state parameter');
    const otherState = new URL(target);
    otherState.searchParams.set('state', 'someone-elses');
    expect(error(await browser.request(otherState.href)).message).toBe('unexpected state parameter');
    expect(await githubSessions(s)).toEqual([]);
  });
});

describe('github: organisation and team rules', () => {
  it('allows a member of an allowed organisation', async () => {
    const s = await setup({ github: { allowed_organizations: ['octo-org'] } });
    const { browser, callback } = await login(s, 'hubot');
    expect(callback.status).toBe(302);
    const metadata = await metadataOf(s, browser);
    // No name or email on GitHub: the login, and GitHub's no-reply address.
    expect(metadata['io.flipt.auth.name']).toBe('hubot');
    expect(metadata['io.flipt.auth.email']).toBe('1000001+hubot@users.noreply.github.com');
    expect(metadata['io.flipt.auth.github.organizations']).toBe('["octo-org"]');
  });

  it('allows a member of an allowed team, keeping every team of allowed organisations in all_teams', async () => {
    const s = await setup({
      github: {
        allowed_organizations: ['octo-org', 'other-org'],
        allowed_teams: { 'octo-org': ['flipt-admins'] },
      },
    });
    const { browser, callback } = await login(s, 'octocat');
    expect(callback.status).toBe(302);
    const metadata = await metadataOf(s, browser);
    expect(metadata['io.flipt.auth.github.teams']).toBe('{"octo-org":["flipt-admins"]}');
    expect(metadata['io.flipt.auth.github.all_teams']).toBe(
      '{"octo-org":["flipt-admins","readers"],"other-org":["crew"]}',
    );
  });

  it('refuses a member of no allowed organisation, saying which rule refused', async () => {
    const s = await setup({ github: { allowed_organizations: ['octo-org', 'other-org'] } });
    const { callback } = await login(s, 'stranger');
    expect(callback.status).toBe(401);
    // The user learns which rule refused them, not which organisations are allowed; the log says both.
    expect(error(callback)).toEqual({
      code: 16,
      message:
        'account does not satisfy the organization requirements: "stranger" belongs to none of allowed_organizations',
      details: [],
    });
    expect(s.t.logs).toContainEqual(
      expect.objectContaining({
        msg: 'login refused',
        reason: expect.stringContaining('(allowed_organizations: octo-org, other-org)'),
      }),
    );
    expect(await githubSessions(s)).toEqual([]);
  });

  it('refuses a member of an allowed organisation in none of its allowed teams', async () => {
    const s = await setup({
      github: { allowed_organizations: ['octo-org'], allowed_teams: { 'octo-org': ['flipt-admins'] } },
    });
    const { callback } = await login(s, 'hubot');
    expect(callback.status).toBe(401);
    expect(error(callback).message).toBe(
      'account does not satisfy the team requirements: "hubot" is in none of the allowed_teams of its allowed organizations',
    );
    expect(await githubSessions(s)).toEqual([]);
  });

  it('finds a team on the second page of a user in 150 teams (Flipt reads only the first)', async () => {
    const s = await setup({
      github: { allowed_organizations: ['wide-org'], allowed_teams: { 'wide-org': ['team-120'] } },
    });
    const { browser, callback } = await login(s, 'wide');
    expect(callback.status).toBe(302);
    expect(s.fake.apiRequests.filter((r) => r.path === '/user/teams').map((r) => r.query)).toEqual([
      '?per_page=100',
      '?per_page=100&page=2',
    ]);
    expect(
      JSON.parse((await metadataOf(s, browser))['io.flipt.auth.github.all_teams'] ?? '{}')['wide-org'],
    ).toHaveLength(150);
  });

  it('without read:org, reads neither organisations nor teams', async () => {
    const s = await setup({ github: { scopes: ['user:email'] } });
    const { browser } = await login(s, 'octocat');
    const metadata = await metadataOf(s, browser);
    expect(metadata['io.flipt.auth.github.organizations']).toBeUndefined();
    expect(s.fake.apiRequests.map((r) => r.path)).toEqual(['/user']);
  });
});

describe('github: when GitHub fails, the user gets a clear error, no session, and never a 500', () => {
  const cases: ReadonlyArray<[string, string, Parameters<FakeGitHub['fault']>[1], RegExp]> = [
    [
      'a server error',
      '/user',
      { status: 500 },
      /^github \/user info response status: "500 Internal Server Error": Internal Server Error$/,
    ],
    [
      'the rate limit',
      '/user/teams',
      { rateLimited: true },
      /^github \/user\/teams info response status: "403 Forbidden": API rate limit exceeded for user ID 1\./,
    ],
    [
      'a timeout (GitHub gets five seconds)',
      '/user/orgs',
      { delayMs: 6_000 },
      /^github \/user\/orgs info request failed: /,
    ],
  ];
  for (const [what, path, fault, message] of cases) {
    it(`answers 503 for ${what}`, { timeout: 20_000 }, async () => {
      const s = await setup();
      s.fake.fault(path, fault);
      const { callback } = await login(s, 'octocat');
      expect(callback.status).toBe(503);
      expect(error(callback).code).toBe(14);
      expect(error(callback).message).toMatch(message);
      expect(callback.headers.getSetCookie().some((c) => c.startsWith('flipt_client_token='))).toBe(false);
      expect(await githubSessions(s)).toEqual([]);
    });
  }

  const oddAnswers: ReadonlyArray<[string, string, Parameters<FakeGitHub['fault']>[1], string]> = [
    [
      'a /user that is not JSON',
      '/user',
      { body: '<html>oops</html>' },
      'github /user info response: not JSON',
    ],
    ['a /user without login or id', '/user', { body: '{}' }, 'github /user info response: no login or id'],
    [
      'a list that is not a list',
      '/user/orgs',
      { body: '{"login":"x"}' },
      'github /user/orgs info response: not a list',
    ],
    [
      'a next page on another host (the token must not go there)',
      '/user/teams',
      { body: '[]', headers: { link: '<https://evil.example/user/teams?page=2>; rel="next"' } },
      'github /user/teams: the next page is on another host',
    ],
    [
      'a list whose next page is itself',
      '/user/orgs',
      { body: '[]', headers: { link: '</user/orgs?per_page=100>; rel="next"' } },
      'github /user/orgs: the list does not end after 1 pages',
    ],
  ];
  for (const [what, path, fault, message] of oddAnswers) {
    it(`answers 503, saying what was wrong, for ${what}`, async () => {
      const s = await setup();
      s.fake.fault(path, fault);
      const { callback } = await login(s, 'octocat');
      expect(error(callback)).toEqual({ code: 14, message, details: [] });
      expect(await githubSessions(s)).toEqual([]);
    });
  }

  it('skips a team without an organisation rather than fail', async () => {
    const s = await setup();
    s.fake.fault('/user/teams', {
      body: JSON.stringify([
        { slug: 'orphan', organization: null },
        { slug: 'crew', organization: { login: 'o' } },
      ]),
    });
    const { browser } = await login(s, 'octocat');
    expect((await metadataOf(s, browser))['io.flipt.auth.github.teams']).toBe('{"o":["crew"]}');
  });

  it('answers 503 when GitHub cannot be reached for the token, and 401 when it refuses the code', async () => {
    const s = await setup();
    const browser = s.browser();
    const target = await toCallback(s, browser, 'octocat');
    const used = await browser.request(target);
    expect(used.status).toBe(302);
    // The same code again: GitHub answers 200 with bad_verification_code.
    const again = await browser.request(target);
    expect(again.status).toBe(401);
    expect(error(again).message).toBe('callback: code exchange failed');

    const next = await toCallback(s, browser, 'octocat');
    await s.fake.close();
    const down = await browser.request(next);
    expect(down.status).toBe(503);
    expect(error(down).message).toBe('callback: code exchange failed');
  });
});
