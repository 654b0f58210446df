import { Browser, type Form, formsOf, type Page } from '../../../core/test-support/browser.ts';

/**
 * A browser login through a session method, for a `goodCredential` fixture: `GET <base>/auth/v1/method/<path>/authorize`,
 * the provider's forms (at most three, each filled in by `fill`), then portcullis' callback; the session token the
 * callback set, as `Bearer <token>`.
 */
export async function sessionBearer(
  base: string,
  path: string,
  fill: (form: Form) => Record<string, string>,
): Promise<string> {
  const browser = new Browser();
  try {
    const authorize = await browser.request(`${base}/auth/v1/method/${path}/authorize`);
    const { authorizeUrl } = JSON.parse(authorize.body) as { authorizeUrl: string };
    const atCallback = (page: Page) => page.headers.get('location')?.includes('/callback?') === true;
    let page = await browser.navigate(authorizeUrl, {}, atCallback);
    for (let step = 0; !atCallback(page) && step < 3; step++) {
      const [form] = formsOf(page);
      if (form === undefined) throw new Error(`no form at ${page.url} (${page.status})`);
      page = await browser.submit(form, fill(form), atCallback);
    }
    await browser.request(new URL(page.headers.get('location') ?? '', page.url).href);
    const token = await browser.cookie(`${base}/`, 'flipt_client_token');
    if (token === undefined) throw new Error('the callback set no flipt_client_token');
    return `Bearer ${token}`;
  } finally {
    await browser.close();
  }
}
