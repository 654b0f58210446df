/**
 * The only code of the conformance suites that knows which OpenID provider runs: how to get through its login form
 * (and, where it has one, its logout confirmation), as a browser would. Everything else — portcullis's config, the
 * clients and users (`conformance/fixtures/idp.json`), the cases — is the same for Dex and the test IdP.
 */
import { type Browser, type Form, formsOf, type Page } from '../../../core/test-support/browser.ts';

/** What goes into an IdP's login form. Both IdPs log a user in by email (Dex's password DB does). */
export interface IdpCredentials {
  readonly email: string;
  readonly password: string;
}

/**
 * One IdP's login (and logout) pages, driven with a {@link Browser}. Every method throws an {@link IdpStepError}
 * naming the step that met an unexpected page.
 */
export interface IdpDriver {
  readonly name: 'test-idp' | 'dex';
  /**
   * Whether the IdP has RP-initiated logout (an `end_session_endpoint`), so that portcullis's
   * `use_end_session_endpoint` gives a `nextUri` and {@link IdpDriver.logout} is there.
   */
  readonly endSession: boolean;
  /**
   * Logs `user` in: from the authorization URL portcullis handed out (`GET .../authorize` → `authorizeUrl`) through
   * the IdP's pages, to the IdP's response that redirects to portcullis's callback (the `redirect_uri` of
   * `authorizeUrl`). That response is returned, not followed: request its `location` to finish the login. When the
   * browser already has a session at the IdP, the first response may be that redirect.
   * @throws IdpStepError when a page is not the one expected — a refused password shows the login form again.
   */
  login(browser: Browser, authorizeUrl: string, user: IdpCredentials): Promise<Page>;
  /**
   * Follows portcullis's `nextUri` (the IdP's end-session URL) and confirms the logout, up to the IdP's response
   * that redirects to the `post_logout_redirect_uri` of `endSessionUrl` (returned, not followed). Present when
   * {@link IdpDriver.endSession} is true.
   * @throws IdpStepError when a page is not the one expected.
   */
  logout?(browser: Browser, endSessionUrl: string): Promise<Page>;
}

/** A step of an IdP's login or logout that met something else than it expected; the message says what. */
export class IdpStepError extends Error {
  override readonly name = 'IdpStepError';
  readonly idp: IdpDriver['name'];
  /** What the driver was doing, e.g. `submit the login form`. */
  readonly step: string;
  /** The page the step found, when it got one. */
  readonly page: Page | undefined;

  constructor(idp: IdpDriver['name'], step: string, message: string, page?: Page, options?: ErrorOptions) {
    super(`${idp}: ${step}: ${message}`, options);
    this.idp = idp;
    this.step = step;
    this.page = page;
  }
}

/** A short, readable account of a page: status, URL, where it redirects, and the start of its text. */
export function describePage(page: Page): string {
  const location = page.headers.get('location');
  const text = page.body
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return `${page.status} at ${page.url}${location === null ? '' : ` redirecting to ${location}`}: "${excerpt}"`;
}

/** Whether `page` redirects to `target` (same origin and path; any query, which carries the code or state). */
function redirectsTo(target: string): (page: Page) => boolean {
  const wanted = new URL(target);
  return (page) => {
    const location = page.headers.get('location');
    if (page.status < 300 || page.status >= 400 || location === null) return false;
    const url = new URL(location, page.url);
    return url.origin === wanted.origin && url.pathname === wanted.pathname;
  };
}

/** A driver's steps: each names itself in the errors it throws, network failures included. */
class Steps {
  readonly idp: IdpDriver['name'];

  constructor(idp: IdpDriver['name']) {
    this.idp = idp;
  }

  /** Runs one step; an error that is not already an {@link IdpStepError} is wrapped in one naming the step. */
  async run(step: string, action: () => Promise<Page>): Promise<Page> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof IdpStepError) throw error;
      throw new IdpStepError(this.idp, step, `request failed: ${String(error)}`, undefined, { cause: error });
    }
  }

  fail(step: string, expected: string, page: Page, found = ''): never {
    throw new IdpStepError(this.idp, step, `expected ${expected}, found ${found}${describePage(page)}`, page);
  }

  /** The query parameter `name` of `url`, which the flow cannot do without. */
  param(step: string, url: string, name: string): string {
    const value = URL.canParse(url) ? new URL(url).searchParams.get(name) : null;
    if (value === null || value === '') {
      throw new IdpStepError(this.idp, step, `${url} has no ${name} parameter`);
    }
    return value;
  }
}

/** The form that asks for `login` and `password` (Dex's password.html; the test IdP's copy of it). */
const passwordForm = (page: Page): Form | undefined =>
  formsOf(page).find((form) => 'login' in form.fields && 'password' in form.fields);

/** Submits the login form and explains a refusal: the same form again, with the IdP's error text. */
async function submitCredentials(
  steps: Steps,
  browser: Browser,
  page: Page,
  user: IdpCredentials,
  done: (page: Page) => boolean,
): Promise<Page> {
  const form =
    passwordForm(page) ?? steps.fail('open the login page', 'a form with login and password fields', page);
  const step = 'submit the login form';
  const after = await steps.run(step, () =>
    browser.submit(form, { login: user.email, password: user.password }, done),
  );
  if (passwordForm(after) !== undefined) {
    steps.fail(step, 'a redirect to the callback', after, 'the login form again (credentials refused?): ');
  }
  return after;
}

/**
 * The test IdP (`conformance/images/test-idp`): its authorization endpoint redirects to its login page
 * (`/dex/interaction/<uid>`), the form posts `login` and `password` back to it, and consent is granted without a
 * page, so the next answers redirect to the callback. Its logout page is oidc-provider's form (an `xsrf` field),
 * confirmed with `logout=yes`.
 */
export const testIdpDriver: IdpDriver = {
  name: 'test-idp',
  endSession: true,
  async login(browser, authorizeUrl, user) {
    const steps = new Steps('test-idp');
    const callback = redirectsTo(steps.param('read the authorization URL', authorizeUrl, 'redirect_uri'));
    const first = await steps.run('open the authorization URL', () =>
      browser.navigate(authorizeUrl, {}, callback),
    );
    if (callback(first)) return first;
    const page = await submitCredentials(steps, browser, first, user, callback);
    return callback(page) ? page : steps.fail('submit the login form', 'a redirect to the callback', page);
  },
  async logout(browser, endSessionUrl) {
    const steps = new Steps('test-idp');
    const target = steps.param('read the end-session URL', endSessionUrl, 'post_logout_redirect_uri');
    const done = redirectsTo(target);
    const confirm = await steps.run('open the end-session URL', () =>
      browser.navigate(endSessionUrl, {}, done),
    );
    if (done(confirm)) return confirm;
    const form =
      formsOf(confirm).find((candidate) => 'xsrf' in candidate.fields) ??
      steps.fail('open the end-session URL', 'the logout confirmation form', confirm);
    const page = await steps.run('confirm the logout', () => browser.submit(form, { logout: 'yes' }, done));
    return done(page) ? page : steps.fail('confirm the logout', `a redirect to ${target}`, page);
  },
};

/** A link to Dex's password connector (`local`) on its connector list (web/templates/login.html). */
function localConnectorLink(page: Page): string | undefined {
  const href = /<a\b[^>]*\shref="([^"]*\/auth\/local(?:[/?][^"]*)?)"/i.exec(page.body)?.[1];
  return href === undefined ? undefined : new URL(href.replaceAll('&amp;', '&'), page.url).href;
}

/**
 * Dex with its password DB (`conformance/fixtures/dex/config.yaml`), as its source has it (github.com/dexidp/dex,
 * v2.45 and master):
 * - `/dex/auth` redirects to the only connector, `/dex/auth/local` (server/handlers.go `handleAuthorization`; with
 *   `oauth2.alwaysShowLoginScreen` it lists connectors as links instead, web/templates/login.html, and this driver
 *   follows the `local` one);
 * - `/dex/auth/local` redirects to `/dex/auth/local/login?back=&state=<auth request id>`
 *   (server/handlers.go `handleConnectorLogin`), whose form (web/templates/password.html) posts `login` — the email,
 *   the password DB's prompt is "Email Address" (server/server.go `passwordDB.Prompt`) — and `password` to the same
 *   URL; a refused password renders the form again, status 200, with `<div id="login-error">`;
 * - accepted, Dex redirects to the callback (`oauth2.skipApprovalScreen: true`), or to `/dex/approval?req=&hmac=`
 *   whose first form posts `approval=approve` (web/templates/approval.html) — submitted here if it comes; on master
 *   the answer first goes back through `/dex/auth?...` (server/authflow/password.go, urls.go), followed as any redirect.
 *
 * No RP-initiated logout: no released Dex (to v2.45.1) has an `end_session_endpoint`; master has `/dex/logout`
 * (server/logout/logout.go) only behind `DEX_SESSIONS_ENABLED=true` with a `sessions:` config block, which a
 * released Dex refuses (cmd/dex/config.go), so the config here does not enable it.
 */
export const dexDriver: IdpDriver = {
  name: 'dex',
  endSession: false,
  async login(browser, authorizeUrl, user) {
    const steps = new Steps('dex');
    const callback = redirectsTo(steps.param('read the authorization URL', authorizeUrl, 'redirect_uri'));
    let page = await steps.run('open the authorization URL', () =>
      browser.navigate(authorizeUrl, {}, callback),
    );
    if (callback(page)) return page;
    const link = passwordForm(page) === undefined ? localConnectorLink(page) : undefined;
    if (link !== undefined) {
      page = await steps.run('choose the password connector', () => browser.navigate(link, {}, callback));
    }
    page = await submitCredentials(steps, browser, page, user, callback);
    const approve = callback(page)
      ? undefined
      : formsOf(page).find((form) => form.fields.approval === 'approve');
    if (approve !== undefined) {
      page = await steps.run('grant access on the approval page', () =>
        browser.submit(approve, {}, callback),
      );
    }
    return callback(page) ? page : steps.fail('finish the login', 'a redirect to the callback', page);
  },
};

/** The driver of each IdP the suites run: `dex` when `CONFORMANCE_DEX_IMAGE` is set, `test-idp` otherwise. */
export const idpDrivers: Readonly<Record<IdpDriver['name'], IdpDriver>> = {
  'test-idp': testIdpDriver,
  dex: dexDriver,
};
