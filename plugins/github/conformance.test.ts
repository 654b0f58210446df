import { afterAll } from 'vitest';
import { startFakeGitHub } from '../../conformance/fake-github/fake-github.ts';
import { readFixture } from '../../conformance/fake-github/fixture.ts';
import { methodPluginCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { Browser, formsOf, type Page } from '../../core/test-support/browser.ts';
import { freePort } from '../../core/test-support/redis.ts';
import github from './index.ts';

const CLIENT_SECRET = 'conformance-github-secret-d93e17';
// The callback URL is registered with the app before portcullis starts, so portcullis gets a fixed port.
const port = await freePort();
const base = `http://localhost:${port}`;
const fixture = readFixture(new URL('../../conformance/fake-github/fixture.json', import.meta.url).pathname);
const fake = await startFakeGitHub({
  fixture: {
    ...fixture,
    apps: [
      {
        client_id: 'conformance-app',
        client_secret: CLIENT_SECRET,
        callback_url: `${base}/auth/v1/method/github/callback`,
      },
    ],
  },
});
afterAll(() => fake.close());

/** authorize → GitHub's login page → callback; the session token it set, as Bearer. */
async function signedIn(): Promise<string> {
  const browser = new Browser();
  try {
    const authorize = await browser.request(`${base}/auth/v1/method/github/authorize`);
    const { authorizeUrl } = JSON.parse(authorize.body) as { authorizeUrl: string };
    const atCallback = (page: Page) => page.headers.get('location')?.includes('/callback?') === true;
    const loginPage = await browser.navigate(authorizeUrl, {}, atCallback);
    const [form] = formsOf(loginPage);
    if (form === undefined) throw new Error(`no login form at ${loginPage.url}: ${loginPage.status}`);
    const redirect = await browser.submit(form, { login: 'octocat', password: 'any' }, atCallback);
    await browser.request(new URL(redirect.headers.get('location') ?? '', redirect.url).href);
    const token = await browser.cookie(`${base}/`, 'flipt_client_token');
    if (token === undefined) throw new Error('the callback set no flipt_client_token');
    return `Bearer ${token}`;
  } finally {
    await browser.close();
  }
}

describeCases(
  'github: conformance',
  methodPluginCases(github, {
    config: {
      client_id: 'conformance-app',
      client_secret: CLIENT_SECRET,
      redirect_address: base,
      server_url: fake.serverUrl,
      api_url: fake.apiUrl,
      scopes: ['user:email', 'read:org'],
    },
    root: {
      server: { host: 'localhost', http_port: port },
      authentication: { session: { domain: 'localhost' } },
    },
    goodCredential: signedIn,
    // GitHub owns no Authorization scheme: a forged session token is refused by the server.
    badCredential: 'Bearer conformance-forged-session-token-c61b',
    secrets: [CLIENT_SECRET],
  }),
);
