/**
 * The fake GitHub, checked against GitHub's own client SDK (Octokit): what the SDK can do with github.com, it can
 * do with the fake, in both URL layouts, and the fake fails the way GitHub fails.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { exchangeWebFlowCode, getWebFlowAuthorizationUrl } from '@octokit/oauth-methods';
import { request } from '@octokit/request';
import { Octokit } from '@octokit/rest';
import * as oauth from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Browser, formsOf, type Page } from '../../core/test-support/browser.ts';
import { type FakeGitHub, type Layout, startFakeGitHub } from './fake-github.ts';
import { readFixture } from './fixture.ts';

const fixture = readFixture(new URL('./fixture.json', import.meta.url).pathname);
const app = fixture.apps[0] as (typeof fixture.apps)[0];
const fakes: FakeGitHub[] = [];
const browsers: Browser[] = [];
afterEach(async () => {
  await Promise.all(browsers.splice(0).map((browser) => browser.close()));
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function start(layout: Layout): Promise<FakeGitHub> {
  const fake = await startFakeGitHub({ fixture, layout });
  fakes.push(fake);
  return fake;
}

/** `request` set up as the SDK is for this GitHub: github.com's OAuth host, or an Enterprise API base. */
function oauthRequest(fake: FakeGitHub, layout: Layout) {
  return request.defaults({ baseUrl: layout === 'enterprise' ? fake.apiUrl : fake.serverUrl });
}

/** The web flow as a user goes through it: the SDK's authorization URL, GitHub's login page, the redirect. */
async function authorize(
  fake: FakeGitHub,
  layout: Layout,
  login: string,
  redirectUrl = app.callback_url,
  scopes = ['read:org', 'user:email'],
) {
  const { url } = getWebFlowAuthorizationUrl({
    clientType: 'oauth-app',
    clientId: app.client_id,
    redirectUrl,
    scopes,
    state: 'state-123',
    request: oauthRequest(fake, layout),
  });
  const browser = new Browser();
  browsers.push(browser);
  const leaves = (page: Page) => page.headers.get('location')?.startsWith('http://localhost:8080/') === true;
  const loginPage = await browser.navigate(url, {}, leaves);
  const [form] = formsOf(loginPage);
  if (form === undefined) return new URL(loginPage.headers.get('location') ?? '');
  const redirect = await browser.submit(form, { login, password: 'any' }, leaves);
  return new URL(redirect.headers.get('location') ?? '');
}

async function token(fake: FakeGitHub, layout: Layout, login: string, scopes?: string[]): Promise<string> {
  const code =
    (await authorize(fake, layout, login, app.callback_url, scopes)).searchParams.get('code') ?? '';
  const { authentication } = await exchangeWebFlowCode({
    clientType: 'oauth-app',
    clientId: app.client_id,
    clientSecret: app.client_secret,
    code,
    redirectUrl: app.callback_url,
    request: oauthRequest(fake, layout),
  });
  return authentication.token;
}

describe.each(['github.com', 'enterprise'] as const)(
  'the fake GitHub (%s layout), through Octokit',
  (layout) => {
    it('runs the OAuth web flow: login page, code with the state, token exchange', async () => {
      const fake = await start(layout);
      const redirect = await authorize(fake, layout, 'octocat');
      expect(`${redirect.origin}${redirect.pathname}`).toBe(app.callback_url);
      expect(redirect.searchParams.get('state')).toBe('state-123');
      expect(redirect.searchParams.get('code')).toMatch(/^[0-9a-f]{20}$/);
      const { authentication } = await exchangeWebFlowCode({
        clientType: 'oauth-app',
        clientId: app.client_id,
        clientSecret: app.client_secret,
        code: redirect.searchParams.get('code') ?? '',
        redirectUrl: app.callback_url,
        request: oauthRequest(fake, layout),
      });
      expect(authentication.token).toMatch(/^gho_[A-Za-z0-9]{36}$/);
    });

    it('refuses a used code, a wrong secret and a redirect_uri outside the callback URL, as GitHub does', async () => {
      const fake = await start(layout);
      const code = (await authorize(fake, layout, 'octocat')).searchParams.get('code') ?? '';
      const exchange = (clientSecret: string) =>
        exchangeWebFlowCode({
          clientType: 'oauth-app',
          clientId: app.client_id,
          clientSecret,
          code,
          request: oauthRequest(fake, layout),
        });
      await expect(exchange('wrong')).rejects.toThrow(/incorrect_client_credentials/);
      await exchange(app.client_secret);
      await expect(exchange(app.client_secret)).rejects.toThrow(/bad_verification_code/);

      const mismatch = await authorize(fake, layout, 'octocat', 'http://localhost:8080/elsewhere');
      expect(mismatch.searchParams.get('error')).toBe('redirect_uri_mismatch');
      const below = await authorize(fake, layout, 'octocat', `${app.callback_url}/deeper`);
      expect(below.searchParams.get('code')).toBeTruthy();
    });

    it('serves /user, /user/orgs and /user/teams, paginated with Link headers the SDK follows', async () => {
      const fake = await start(layout);
      const octokit = new Octokit({ auth: await token(fake, layout, 'wide'), baseUrl: fake.apiUrl });
      const { data: user } = await octokit.rest.users.getAuthenticated();
      expect(user).toMatchObject({
        login: 'wide',
        id: 1000003,
        name: 'Many Teams',
        email: 'wide@example.com',
      });
      const teams = await octokit.paginate(octokit.rest.teams.listForAuthenticatedUser, { per_page: 100 });
      expect(teams).toHaveLength(150);
      expect(teams[149]).toMatchObject({ slug: 'team-149', organization: { login: 'wide-org' } });
      const firstPage = await octokit.rest.teams.listForAuthenticatedUser({ per_page: 100 });
      expect(firstPage.headers.link).toMatch(/page=2>; rel="next"/);
      const orgs = await octokit.paginate(octokit.rest.orgs.listForAuthenticatedUser);
      expect(orgs.map((org) => org.login)).toEqual(['wide-org']);
    });

    it('checks PKCE (S256) as GitHub does, through openid-client', async () => {
      const fake = await start(layout);
      const config = new oauth.Configuration(
        {
          issuer: fake.serverUrl,
          authorization_endpoint: `${fake.serverUrl}/login/oauth/authorize`,
          token_endpoint: `${fake.serverUrl}/login/oauth/access_token`,
        },
        app.client_id,
        app.client_secret,
      );
      oauth.allowInsecureRequests(config);
      const login = async (verifier: string) => {
        const url = oauth.buildAuthorizationUrl(config, {
          redirect_uri: app.callback_url,
          scope: 'read:org',
          state: 'pkce-state',
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        });
        const browser = new Browser();
        browsers.push(browser);
        const leaves = (page: Page) => page.headers.get('location')?.startsWith(app.callback_url) === true;
        const loginPage = await browser.navigate(url.href, {}, leaves);
        const redirect = await browser.submit(formsOf(loginPage)[0] as never, { login: 'octocat' }, leaves);
        return new URL(redirect.headers.get('location') ?? '');
      };
      const verifier = oauth.randomPKCECodeVerifier();
      const tokens = await oauth.authorizationCodeGrant(config, await login(verifier), {
        pkceCodeVerifier: verifier,
        expectedState: 'pkce-state',
      });
      expect(tokens.access_token).toMatch(/^gho_/);
      await expect(
        oauth.authorizationCodeGrant(config, await login(oauth.randomPKCECodeVerifier()), {
          pkceCodeVerifier: oauth.randomPKCECodeVerifier(),
          expectedState: 'pkce-state',
        }),
      ).rejects.toThrow();
    });

    it('reads memberships only with a scope that allows it, as GitHub does', async () => {
      const fake = await start(layout);
      const octokit = new Octokit({
        auth: await token(fake, layout, 'octocat', ['user:email']),
        baseUrl: fake.apiUrl,
      });
      expect((await octokit.rest.orgs.listForAuthenticatedUser()).data).toEqual([]);
      await expect(octokit.rest.teams.listForAuthenticatedUser()).rejects.toMatchObject({
        status: 403,
        response: { headers: { 'x-accepted-oauth-scopes': 'read:org, user, repo' } },
      });
    });

    it('fails as GitHub fails: bad credentials, rate limit, server errors', async () => {
      const fake = await start(layout);
      const stranger = new Octokit({ auth: 'gho_not-a-token', baseUrl: fake.apiUrl });
      await expect(stranger.rest.users.getAuthenticated()).rejects.toMatchObject({
        status: 401,
        message: expect.stringContaining('Bad credentials'),
      });
      const octokit = new Octokit({ auth: await token(fake, layout, 'octocat'), baseUrl: fake.apiUrl });
      fake.fault('/user/teams', { rateLimited: true, times: 1 });
      const limited = await octokit.rest.teams.listForAuthenticatedUser().catch((error: unknown) => error);
      expect(limited).toMatchObject({
        status: 403,
        message: expect.stringContaining('API rate limit exceeded'),
        response: { headers: { 'x-ratelimit-remaining': '0' } },
      });
      fake.fault('/user', { status: 502, times: 1 });
      await expect(octokit.rest.users.getAuthenticated()).rejects.toMatchObject({ status: 502 });
      fake.fault('/user', { delayMs: 1_000, times: 1 });
      await expect(
        octokit.rest.users.getAuthenticated({ request: { signal: AbortSignal.timeout(100) } }),
      ).rejects.toThrow(/abort/i);
      expect((await octokit.rest.users.getAuthenticated()).data.login).toBe('octocat');
    });
  },
);

describe('the fake GitHub as a process', () => {
  it('starts from the command line, prints its URLs, refuses a request without User-Agent, stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--experimental-strip-types',
        '--disable-warning=ExperimentalWarning',
        new URL('./main.ts', import.meta.url).pathname,
        '--layout',
        'enterprise',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = await new Promise<string[]>((resolve) =>
      createInterface({ input: child.stdout }).once('line', (text) => resolve([text])),
    );
    const urls = JSON.parse(line ?? '{}') as { serverUrl: string; apiUrl: string };
    expect(urls.apiUrl).toBe(`${urls.serverUrl}/api/v3`);
    const response = await fetch(`${urls.apiUrl}/user`, { headers: { 'user-agent': '' } });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('User-Agent');
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
  });
});
