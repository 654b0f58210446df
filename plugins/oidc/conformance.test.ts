import { afterAll } from 'vitest';
import { methodPluginCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { Browser, formsOf, type Page } from '../../core/test-support/browser.ts';
import { startTestProvider } from '../../core/test-support/openid-provider.ts';
import { freePort } from '../../core/test-support/redis.ts';
import oidc from './index.ts';

const CLIENT_SECRET = 'conformance-client-secret-8c2f41';
// The redirect address is registered at the provider before portcullis starts, so portcullis gets a fixed port.
const port = await freePort();
const base = `http://localhost:${port}`;
const op = await startTestProvider({
  clients: [
    {
      client_id: 'conformance',
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${base}/auth/v1/method/oidc/main/callback`],
    },
  ],
  accounts: { mark: { email: 'mark@flipt.io', email_verified: true, name: 'Mark Phelps' } },
});
afterAll(() => op.close());

/** A browser login (authorize, the provider's login and consent forms, callback); its session token as Bearer. */
async function signedIn(): Promise<string> {
  const browser = new Browser();
  try {
    const authorize = await browser.request(`${base}/auth/v1/method/oidc/main/authorize`);
    const { authorizeUrl } = JSON.parse(authorize.body) as { authorizeUrl: string };
    const atCallback = (page: Page) => page.headers.get('location')?.includes('/callback?') === true;
    let page = await browser.navigate(authorizeUrl, {}, atCallback);
    for (let step = 0; !atCallback(page) && step < 3; step++) {
      const [form] = formsOf(page);
      if (form === undefined) throw new Error(`no form at ${page.url} (${page.status})`);
      page = await browser.submit(
        form,
        form.fields.prompt === 'login' ? { login: 'mark', password: 'x' } : {},
        atCallback,
      );
    }
    await browser.request(new URL(page.headers.get('location') ?? '', page.url).href);
    const token = await browser.cookie(`${base}/`, 'flipt_client_token');
    if (token === undefined) throw new Error('the callback set no flipt_client_token');
    return `Bearer ${token}`;
  } finally {
    await browser.close();
  }
}

describeCases(
  'oidc: conformance',
  methodPluginCases(oidc, {
    config: {
      providers: {
        main: {
          issuer_url: op.issuer,
          client_id: 'conformance',
          client_secret: CLIENT_SECRET,
          redirect_address: base,
          scopes: ['email', 'profile'],
        },
      },
    },
    root: {
      server: { host: 'localhost', http_port: port },
      authentication: { session: { domain: 'localhost' } },
    },
    goodCredential: signedIn,
    // OIDC owns no Authorization scheme: a forged session token is refused by the server.
    badCredential: 'Bearer conformance-forged-session-token-5a0c',
    secrets: [CLIENT_SECRET],
  }),
);
