import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { portcullis } from '../core/http/plugin.ts';
import { Browser, formsOf, type Page } from '../core/test-support/browser.ts';
import {
  ADMIN_TOKEN,
  type LoginWorld,
  type LoginWorldOptions,
  startLoginWorld,
} from '../core/test-support/login-world.ts';
import { freePort } from '../core/test-support/ports.ts';
import { type RawAnswer, rawExchange } from '../core/test-support/raw-http.ts';
import { startRedis } from '../core/test-support/redis.ts';
import { bearer, serveForTest, type TestServer } from '../core/test-support/server.ts';
import { startUpstream } from '../core/test-support/upstream.ts';
import { formToken } from './form-token.ts';

/**
 * The web UI's pages over real HTTP: portcullis served in process, the in-process OpenID provider and the fake
 * GitHub for logins, a scripted browser (cookie jar, redirects one by one, `Accept: text/html` on every navigation
 * as a browser sends it), redis-server for the store.
 */

const ADMIN = ADMIN_TOKEN;
const ACCEPT_HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

// ---------------------------------------------------------------------------------------------------------------
// Set-up

type SetupOptions = LoginWorldOptions;

interface Setup extends LoginWorld {
  browser(): Browser;
}

/** The OpenID provider ("google"), optionally the fake GitHub, and portcullis; and scripted browsers for it. */
async function setup(options: SetupOptions = {}): Promise<Setup> {
  const world = await startLoginWorld(options);
  return {
    ...world,
    browser() {
      const browser = new Browser();
      onTestFinished(() => browser.close());
      return browser;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A browser's moves

const isRedirect = (page: Page) => page.status >= 300 && page.status < 400;
const locationOf = (page: Page) => new URL(page.headers.get('location') ?? '', page.url).href;
const last = <T>(items: readonly T[]): T => items[items.length - 1] as T;
const redirectsToCallback = (page: Page) => /\/callback\?/.test(page.headers.get('location') ?? '');

/** A navigation: `Accept: text/html` on every request, redirects followed one by one; every response, in order. */
async function visit(
  browser: Browser,
  url: string,
  options: { headers?: Record<string, string>; stop?: (page: Page) => boolean } = {},
): Promise<Page[]> {
  const pages: Page[] = [];
  let next: string | undefined = url;
  while (next !== undefined) {
    if (pages.length > 20) throw new Error(`too many redirects from ${url}`);
    const page = await browser.request(next, { headers: { accept: ACCEPT_HTML, ...options.headers } });
    pages.push(page);
    next =
      isRedirect(page) && page.headers.get('location') !== null && !options.stop?.(page)
        ? locationOf(page)
        : undefined;
  }
  return pages;
}

/** The headers a browser's same-origin form post carries. */
const sameOrigin = (s: Setup) => ({ origin: new URL(s.site).origin, 'sec-fetch-site': 'same-origin' });

/** Posts a form as a browser would (urlencoded, `Accept: text/html`), no redirect followed. */
function post(
  browser: Browser,
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string>,
): Promise<Page> {
  return browser.request(url, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: ACCEPT_HTML, ...headers },
  });
}

const htmlText = (value: string) =>
  value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

/** The `form_token` field of the first form of a page. */
function formTokenOf(page: Page): string {
  const token = /name="form_token" value="([^"]*)"/.exec(page.body)?.[1];
  if (token === undefined || token === '') throw new Error(`no form token at ${page.url}`);
  return token;
}

/** The login page's buttons: each one's label (the text after "Login with ") and where it goes. */
function buttonsOf(page: Page): Array<{ label: string; href: string }> {
  return [...page.body.matchAll(/<a class="button provider" href="([^"]*)">([\s\S]*?)<\/a>/g)].map(
    ([, href, html]) => ({
      label: (html ?? '').replace(/<[^>]*>/g, '').replace(/^[\s\S]*?Login with /, ''),
      href: new URL(htmlText(href ?? ''), page.url).href,
    }),
  );
}

/** The href of the login page's "Login with <label>" button. */
function buttonHref(page: Page, label: string): string {
  const button = buttonsOf(page).find((candidate) => candidate.label === label);
  if (button === undefined) throw new Error(`no "Login with ${label}" at ${page.url}: ${page.body}`);
  return button.href;
}

/** From the provider's first page (the OpenID provider's or fake GitHub's), signs in; the callback URL it sends to. */
async function throughProvider(browser: Browser, first: Page, user: string): Promise<string> {
  let page = first;
  for (let step = 0; !redirectsToCallback(page); step++) {
    const [form] = formsOf(page);
    if (step > 4 || form === undefined) {
      throw new Error(`no way to the callback at ${page.url} (${page.status}): ${page.body.slice(0, 300)}`);
    }
    const signIn = 'login' in form.fields || form.fields.prompt === 'login';
    page = await browser.submit(form, signIn ? { login: user, password: 'any' } : {}, redirectsToCallback);
  }
  return locationOf(page);
}

/**
 * A login as a person does it: the login page (for `returnTo`), the "Login with <label>" button, the provider's
 * pages, then the callback and every redirect after it. The responses of the button's start and after the callback.
 */
async function loginThroughUi(
  s: Setup,
  browser: Browser,
  options: { label?: string; user?: string; returnTo?: string } = {},
): Promise<{ start: Page[]; callback: Page[] }> {
  const query = options.returnTo === undefined ? '' : `?return_to=${encodeURIComponent(options.returnTo)}`;
  const login = last(await visit(browser, `${s.site}/auth/ui/login${query}`));
  expect(login.status).toBe(200);
  const start = await visit(browser, buttonHref(login, options.label ?? 'Google'), {
    stop: redirectsToCallback,
  });
  const callbackUrl = await throughProvider(browser, last(start), options.user ?? 'mark');
  return { start, callback: await visit(browser, callbackUrl) };
}

/** A login started with the API's authorize (as Flipt's UI or a script does), callback requested as a browser. */
async function loginThroughApi(s: Setup, browser: Browser, user: string): Promise<Page> {
  const authorize = await browser.request(`${s.site}/auth/v1/method/oidc/google/authorize`);
  expect(authorize.status).toBe(200);
  const { authorizeUrl } = JSON.parse(authorize.body) as { authorizeUrl: string };
  const first = last(await visit(browser, authorizeUrl, { stop: redirectsToCallback }));
  const callback = await throughProvider(browser, first, user);
  return browser.request(callback, { headers: { accept: ACCEPT_HTML } });
}

/** A browser signed in with OIDC as `user`. */
async function signedInBrowser(s: Setup, user = 'mark'): Promise<Browser> {
  const browser = s.browser();
  const { callback } = await loginThroughUi(s, browser, { user });
  expect(last(callback).status).toBe(200);
  expect(await browser.cookie(s.site, 'flipt_client_token')).toBeDefined();
  return browser;
}

// ---------------------------------------------------------------------------------------------------------------
// The API, as an administrator sees it

interface Listed {
  readonly id: string;
  readonly method: string;
  readonly expiresAt?: string;
  readonly metadata?: Record<string, string>;
}

async function createToken(
  t: TestServer,
  body: Record<string, unknown>,
): Promise<{ id: string; clientToken: string }> {
  const response = await t.fetch('/auth/v1/method/token', {
    method: 'POST',
    headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  const created = (await response.json()) as { clientToken: string; authentication: { id: string } };
  return { id: created.authentication.id, clientToken: created.clientToken };
}

/** Every authentication the API lists for `method`, through all its pages. */
async function listAll(t: TestServer, method: string): Promise<Listed[]> {
  const all: Listed[] = [];
  let pageToken = '';
  do {
    const query = new URLSearchParams({ method, limit: '100', ...(pageToken && { pageToken }) });
    const response = await t.fetch(`/auth/v1/tokens?${query}`, { headers: bearer(ADMIN) });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { authentications: Listed[]; nextPageToken?: string };
    all.push(...page.authentications);
    pageToken = page.nextPageToken ?? '';
  } while (pageToken !== '');
  return all;
}

const BOOTSTRAP_TOKEN = 'initial_bootstrap_token';

/** The client tokens stored, apart from the one Flipt's bootstrap creates at start (which the list shows too). */
async function createdByForms(s: Setup): Promise<Listed[]> {
  return (await listAll(s.t, 'METHOD_TOKEN')).filter(
    (entry) => entry.metadata?.['io.flipt.auth.token.name'] !== BOOTSTRAP_TOKEN,
  );
}

async function tokenStatus(t: TestServer, id: string): Promise<number> {
  return (await t.fetch(`/auth/v1/tokens/${id}`, { headers: bearer(ADMIN) })).status;
}

async function selfStatus(s: Setup, browser: Browser): Promise<number> {
  return (await browser.request(`${s.site}/auth/v1/self`)).status;
}

// ---------------------------------------------------------------------------------------------------------------
// What every page carries

function cspDirectives(page: Page): Map<string, string> {
  const csp = page.headers.get('content-security-policy') ?? '';
  return new Map(
    csp
      .split(';')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map((part) => {
        const [name = '', ...values] = part.split(/\s+/);
        return [name, values.join(' ')] as const;
      }),
  );
}

/** The strict CSP (nothing inline, nothing foreign) and the other headers of a page that must not be cached. */
function expectPageHeaders(page: Page): void {
  const where = `${page.status} ${page.url}`;
  const csp = page.headers.get('content-security-policy') ?? '';
  expect(csp, where).not.toBe('');
  expect(csp, where).not.toMatch(/unsafe-|\*|data:|https?:/);
  const directives = cspDirectives(page);
  expect(directives.get('default-src'), where).toBe("'none'");
  expect(directives.get('script-src'), where).toBe("'self'");
  expect(directives.get('style-src'), where).toBe("'self'");
  expect(directives.get('frame-ancestors'), where).toBe("'none'");
  expect(directives.get('base-uri'), where).toBe("'none'");
  expect(directives.get('form-action'), where).toBe("'self'");
  expect(page.headers.get('cache-control'), where).toBe('no-store');
  expect(page.headers.get('x-content-type-options'), where).toBe('nosniff');
  expect(page.headers.get('x-frame-options'), where).toBe('DENY');
}

/** A page of the UI: HTML, with the page headers. */
function expectHtmlPage(page: Page, status = 200): void {
  expect(page.status, `${page.url}: ${page.body.slice(0, 300)}`).toBe(status);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(page.body.startsWith('<!doctype html>')).toBe(true);
  expectPageHeaders(page);
}

/** The `Set-Cookie` of `name` in a response. */
const setCookieOf = (page: Page, name: string) =>
  page.headers.getSetCookie().find((cookie) => cookie.startsWith(`${name}=`));

const idsOf = (page: Page) =>
  [...page.body.matchAll(/<span class="id mono">([^<]*)<\/span>/g)].map(([, id]) => id ?? '');

function linkOf(page: Page, text: string): string | undefined {
  const match = new RegExp(`<a class="button" href="([^"]*)"(?: rel="next")?>${text}</a>`).exec(page.body);
  return match === null ? undefined : new URL(htmlText(match[1] ?? ''), page.url).href;
}

// ---------------------------------------------------------------------------------------------------------------

describe('web UI over HTTP: headers and assets', () => {
  it('every page carries the strict CSP, no-store, nosniff and DENY: login, session, tokens, delete, notices', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const { id } = await createToken(s.t, { name: 'to-delete' });
    const pages: Page[] = [];
    const anonymous = s.browser();
    pages.push(last(await visit(anonymous, `${s.site}/auth/ui/login`)));
    pages.push(last(await visit(browser, `${s.site}/auth/ui/`)));
    pages.push(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    pages.push(last(await visit(browser, `${s.site}/auth/ui/tokens/${id}/delete`)));
    for (const page of pages) expectHtmlPage(page);
    // A 404 notice (no such token), a 403 notice (a refused form), a 400 (a refused token form).
    expectHtmlPage(last(await visit(browser, `${s.site}/auth/ui/tokens/nope/delete`)), 404);
    expectHtmlPage(await post(browser, `${s.site}/auth/ui/tokens`, { name: 'x' }, sameOrigin(s)), 403);
    const form = formTokenOf(pages[2] as Page);
    expectHtmlPage(
      await post(browser, `${s.site}/auth/ui/tokens`, { name: '', form_token: form }, sameOrigin(s)),
      400,
    );
  });

  it('the page that sends a browser on to the provider’s end-session endpoint carries them too', async () => {
    const s = await setup({ google: { use_end_session_endpoint: true } });
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/`)));
    const page = await post(browser, `${s.site}/auth/ui/logout`, { form_token: form }, sameOrigin(s));
    expectHtmlPage(page);
    const next = /<a class="button primary" href="([^"]*)" data-follow>/.exec(page.body)?.[1] ?? '';
    expect(new URL(htmlText(next)).origin).toBe(new URL(s.op.issuer).origin);
    expect(await selfStatus(s, browser)).toBe(401);
  });

  it('every redirect the UI answers carries the same headers', async () => {
    const s = await setup({ oidc: { email_matches: ['@flipt\\.io$'] } });
    const redirects: Page[] = [];
    const anonymous = s.browser();
    // No session → login page; a start → the provider; an unknown start → back to the login page.
    redirects.push((await visit(anonymous, `${s.site}/auth/ui/tokens`))[0] as Page);
    redirects.push((await visit(anonymous, `${s.site}/auth/ui/login/nope`))[0] as Page);
    const refused = s.browser();
    const { start, callback } = await loginThroughUi(s, refused, { user: 'eve' });
    redirects.push(start[0] as Page, callback[0] as Page);
    const browser = await signedInBrowser(s);
    // Signed in: the login page goes on to return_to; a created token, a deleted one, and log out go on by 303.
    redirects.push((await visit(browser, `${s.site}/auth/ui/login`))[0] as Page);
    const tokens = last(await visit(browser, `${s.site}/auth/ui/tokens`));
    const form = formTokenOf(tokens);
    redirects.push(
      await post(browser, `${s.site}/auth/ui/tokens`, { name: 'n', form_token: form }, sameOrigin(s)),
    );
    const { id } = await createToken(s.t, { name: 'gone' });
    redirects.push(
      await post(browser, `${s.site}/auth/ui/tokens/${id}/delete`, { form_token: form }, sameOrigin(s)),
    );
    redirects.push(await post(browser, `${s.site}/auth/ui/logout`, { form_token: form }, sameOrigin(s)));
    for (const page of redirects) {
      expect(page.status, page.url).toBeGreaterThanOrEqual(300);
      expect(page.status, page.url).toBeLessThan(400);
    }
    const missing = redirects.filter((page) => {
      try {
        expectPageHeaders(page);
        return false;
      } catch {
        return true;
      }
    });
    expect(missing.map((page) => `${page.status} ${page.url}`)).toEqual([]);
  });

  it('deleting a token that is not there says so (the API answers such a delete 200, as Flipt does)', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    const answer = await post(
      browser,
      `${s.site}/auth/ui/tokens/nope/delete`,
      { form_token: form },
      sameOrigin(s),
    );
    expectHtmlPage(answer, 404);
    expect(answer.body).toContain('No such token');
    expect(answer.body).not.toContain('deleted');
  });

  it('assets: their content types, immutable only with their own ?v=, 404 for anything else', async () => {
    const s = await setup();
    const login = last(await visit(s.browser(), `${s.site}/auth/ui/login`));
    const expected: Record<string, string> = {
      'ui.css': 'text/css; charset=utf-8',
      'ui.js': 'text/javascript; charset=utf-8',
      'icon.svg': 'image/svg+xml',
    };
    for (const [name, contentType] of Object.entries(expected)) {
      const linked = new RegExp(`"(/auth/ui/assets/${name.replace('.', '\\.')}\\?v=([0-9a-f]{16}))"`).exec(
        login.body,
      );
      expect(linked, name).not.toBeNull();
      const [, path = '', version = ''] = linked ?? [];
      const versioned = await s.t.fetch(path);
      expect(versioned.status).toBe(200);
      expect(versioned.headers.get('content-type')).toBe(contentType);
      expect(versioned.headers.get('x-content-type-options')).toBe('nosniff');
      expect(versioned.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      // The version is the content's: a new file gets a new URL.
      const body = Buffer.from(await versioned.arrayBuffer());
      expect(createHash('sha256').update(body).digest('hex').slice(0, 16)).toBe(version);
      for (const other of [`/auth/ui/assets/${name}`, `/auth/ui/assets/${name}?v=0000000000000000`]) {
        const response = await s.t.fetch(other);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe(contentType);
        expect(response.headers.get('cache-control'), other).not.toContain('immutable');
      }
    }
    for (const path of [
      '/auth/ui/assets/nope.js',
      '/auth/ui/assets/login.eta',
      '/auth/ui/assets/..%2Frender.ts',
      '/auth/ui/assets/%2e%2e%2fpages%2flogin.ts',
      '/auth/ui/assets/',
    ]) {
      const response = await s.t.fetch(path);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toContain('import ');
    }
  });
});

describe('web UI over HTTP: escaping', () => {
  const SCRIPT = '<script>alert(1)</script>';
  const IMG = '"><img src=x onerror=alert(2)>';

  /** No markup of its own beyond the layout's one script and one brand image: the text came out as text. */
  function expectNoInjectedMarkup(page: Page): void {
    expect(page.body.match(/<script/gi) ?? []).toHaveLength(1);
    expect(page.body).toMatch(/<script src="\/auth\/ui\/assets\/ui\.js\?v=[0-9a-f]{16}"><\/script>/);
    expect(page.body.match(/<img/gi) ?? []).toHaveLength(1);
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).not.toContain('onerror=alert(2)>');
  }

  it('a token whose name, description and metadata are markup is shown escaped on the tokens and delete pages', async () => {
    const s = await setup();
    const { id } = await createToken(s.t, {
      name: SCRIPT,
      description: IMG,
      metadata: { [SCRIPT]: IMG, plain: SCRIPT },
    });
    const browser = s.browser();
    const headers = bearer(ADMIN);
    const tokens = last(await visit(browser, `${s.site}/auth/ui/tokens`, { headers }));
    expectHtmlPage(tokens);
    expectNoInjectedMarkup(tokens);
    expect(tokens.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(tokens.body).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(idsOf(tokens)).toContain(id);

    const remove = last(await visit(browser, `${s.site}/auth/ui/tokens/${id}/delete`, { headers }));
    expectHtmlPage(remove);
    expectNoInjectedMarkup(remove);
    expect(remove.body).toContain('<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>');
  });

  it('a query or path the page repeats is escaped: the method filter, a token id', async () => {
    const s = await setup();
    const browser = s.browser();
    const headers = bearer(ADMIN);
    const method = encodeURIComponent(SCRIPT);
    const filtered = last(
      await visit(browser, `${s.site}/auth/ui/tokens?method=${method}&pageToken=${method}`, { headers }),
    );
    expect(filtered.status).toBeGreaterThanOrEqual(400);
    expectNoInjectedMarkup(filtered);
    const id = encodeURIComponent(IMG);
    const remove = last(await visit(browser, `${s.site}/auth/ui/tokens/${id}/delete`, { headers }));
    expectHtmlPage(remove, 404);
    expectNoInjectedMarkup(remove);
    // An id that would walk the API's path elsewhere (to the caller's own session) reaches nothing else: the session
    // and the other tokens stay. (The API, as Flipt's, answers a delete of an unknown id with 200.)
    const session = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(session, `${s.site}/auth/ui/tokens`)));
    const before = await listAll(s.t, 'METHOD_NONE');
    for (const walk of ['..%2F..%2Fself%2Frevoke', '..%2Fself', '%2E%2E%2F%2E%2E%2Fself%2Frevoke']) {
      const page = await post(
        session,
        `${s.site}/auth/ui/tokens/${walk}/delete`,
        { form_token: form },
        sameOrigin(s),
      );
      expect(page.status, walk).toBeLessThan(500);
      expect(await selfStatus(s, session), walk).toBe(200);
    }
    expect(await listAll(s.t, 'METHOD_NONE')).toEqual(before);
  });

  it('a name typed into the create form is escaped in the “created” notice and the kept form', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    // Refused (an expiry not offered): the typed values come back in the form, escaped.
    const refused = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: IMG, description: SCRIPT, expires_in_days: '2', form_token: form },
      sameOrigin(s),
    );
    expectHtmlPage(refused, 400);
    expectNoInjectedMarkup(refused);
    expect(refused.body).toContain('value="&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"');
    // Created: the notice names it, escaped.
    const created = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: IMG, description: SCRIPT, expires_in_days: '0', form_token: form },
      sameOrigin(s),
    );
    expect(created.status).toBe(303);
    const shown = last(await visit(browser, locationOf(created)));
    expectHtmlPage(shown);
    expectNoInjectedMarkup(shown);
    expect(shown.body).toContain('Token “&quot;&gt;&lt;img src=x onerror=alert(2)&gt;” created.');
  });
});

describe('web UI over HTTP: forms refuse cross-site posts', () => {
  /** Two signed-in people, a token to delete, and each one's form token. */
  async function twoSessions() {
    const s = await setup();
    const mark = await signedInBrowser(s, 'mark');
    const anna = await signedInBrowser(s, 'anna');
    const markForm = formTokenOf(last(await visit(mark, `${s.site}/auth/ui/tokens`)));
    const annaForm = formTokenOf(last(await visit(anna, `${s.site}/auth/ui/tokens`)));
    expect(markForm).not.toBe(annaForm);
    return { s, mark, anna, markForm, annaForm };
  }

  /** The ways a post may come without being mark's own form from this site. */
  function forgeries(
    s: Setup,
    markForm: string,
    annaForm: string,
  ): Array<{ what: string; fields: Record<string, string>; headers: Record<string, string> }> {
    const site = sameOrigin(s);
    return [
      { what: 'no form token', fields: {}, headers: site },
      { what: 'an empty form token', fields: { form_token: '' }, headers: site },
      { what: 'a wrong form token', fields: { form_token: `${markForm.slice(0, -2)}AA` }, headers: site },
      {
        what: 'a form token of its own prefix',
        fields: { form_token: markForm.slice(0, 10) },
        headers: site,
      },
      { what: 'another session’s form token', fields: { form_token: annaForm }, headers: site },
      {
        what: 'Origin: https://evil.example',
        fields: { form_token: markForm },
        headers: { origin: 'https://evil.example' },
      },
      {
        what: 'Sec-Fetch-Site: cross-site',
        fields: { form_token: markForm },
        headers: { origin: new URL(s.site).origin, 'sec-fetch-site': 'cross-site' },
      },
      {
        what: 'Sec-Fetch-Site: same-site',
        fields: { form_token: markForm },
        headers: { 'sec-fetch-site': 'same-site' },
      },
    ];
  }

  function expectRefused(page: Page, what: string): void {
    expect(page.status, what).toBe(403);
    expectHtmlPage(page, 403);
    expect(page.body, what).toContain('This form could not be accepted');
    expect(page.headers.get('location'), what).toBeNull();
    expect(setCookieOf(page, 'portcullis_flash'), what).toBeUndefined();
  }

  it('create token: refused (403 page, nothing created) unless the right token comes from this origin', async () => {
    const { s, mark, markForm, annaForm } = await twoSessions();
    for (const [index, forgery] of forgeries(s, markForm, annaForm).entries()) {
      const page = await post(
        mark,
        `${s.site}/auth/ui/tokens`,
        { name: `forged-${index}`, ...forgery.fields },
        forgery.headers,
      );
      expectRefused(page, forgery.what);
    }
    const names = (await listAll(s.t, 'METHOD_TOKEN')).map((t) => t.metadata?.['io.flipt.auth.token.name']);
    expect(names.filter((name) => name?.startsWith('forged-'))).toEqual([]);

    const page = await post(
      mark,
      `${s.site}/auth/ui/tokens`,
      { name: 'mine', form_token: markForm },
      sameOrigin(s),
    );
    expect(page.status).toBe(303);
    expect(
      (await listAll(s.t, 'METHOD_TOKEN')).map((t) => t.metadata?.['io.flipt.auth.token.name']),
    ).toContain('mine');
  });

  it('delete token: refused (403 page, the token still works) unless the right token comes from this origin', async () => {
    const { s, mark, markForm, annaForm } = await twoSessions();
    const victim = await createToken(s.t, { name: 'victim' });
    for (const forgery of forgeries(s, markForm, annaForm)) {
      const page = await post(
        mark,
        `${s.site}/auth/ui/tokens/${victim.id}/delete`,
        forgery.fields,
        forgery.headers,
      );
      expectRefused(page, forgery.what);
      expect(await tokenStatus(s.t, victim.id), forgery.what).toBe(200);
    }
    const page = await post(
      mark,
      `${s.site}/auth/ui/tokens/${victim.id}/delete`,
      { form_token: markForm },
      sameOrigin(s),
    );
    expect(page.status).toBe(303);
    expect(await tokenStatus(s.t, victim.id)).toBe(404);
    expect((await s.t.fetch('/auth/v1/self', { headers: bearer(victim.clientToken) })).status).toBe(401);
  });

  it('log out: refused (403 page, the session goes on) unless the right token comes from this origin', async () => {
    const { s, mark, markForm, annaForm } = await twoSessions();
    for (const forgery of forgeries(s, markForm, annaForm)) {
      const page = await post(mark, `${s.site}/auth/ui/logout`, forgery.fields, forgery.headers);
      expectRefused(page, forgery.what);
      expect(setCookieOf(page, 'flipt_client_token'), forgery.what).toBeUndefined();
      expect(await selfStatus(s, mark), forgery.what).toBe(200);
    }
    const page = await post(mark, `${s.site}/auth/ui/logout`, { form_token: markForm }, sameOrigin(s));
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/auth/ui/login');
    expect(await selfStatus(s, mark)).toBe(401);
    const after = last(await visit(mark, locationOf(page)));
    expect(after.body).toContain('You have been signed out.');
  });

  it('a form token is bound to its session: after logging out and in again the old one is refused', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const old = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    expect((await post(browser, `${s.site}/auth/ui/logout`, { form_token: old }, sameOrigin(s))).status).toBe(
      303,
    );
    const { callback } = await loginThroughUi(s, browser, { user: 'anna', returnTo: '/auth/ui/tokens' });
    const fresh = formTokenOf(last(callback));
    expect(fresh).not.toBe(old);
    const refused = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: 'stale', form_token: old },
      sameOrigin(s),
    );
    expect(refused.status).toBe(403);
    const accepted = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: 'fresh', form_token: fresh },
      sameOrigin(s),
    );
    expect(accepted.status).toBe(303);
  });

  it('with session.csrf.key set (Flipt’s own check on), the forms still work from the same origin', async () => {
    const s = await setup({ session: { csrf: { key: 'a-csrf-key-of-32-characters-long' } } });
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    const created = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: 'with-key', form_token: form },
      sameOrigin(s),
    );
    expect(created.status).toBe(303);
    const shown = last(await visit(browser, locationOf(created)));
    expect(shown.body).toContain('Token “with-key” created.');
    const [token] = (await listAll(s.t, 'METHOD_TOKEN')).filter(
      (entry) => entry.metadata?.['io.flipt.auth.token.name'] === 'with-key',
    );
    expect(token).toBeDefined();
    const removed = await post(
      browser,
      `${s.site}/auth/ui/tokens/${token?.id}/delete`,
      { form_token: form },
      sameOrigin(s),
    );
    expect(removed.status).toBe(303);
    expect(await tokenStatus(s.t, token?.id ?? '')).toBe(404);
    // A cross-site post is still refused (by Flipt's check first, now).
    const forged = await post(
      browser,
      `${s.site}/auth/ui/logout`,
      { form_token: form },
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    );
    expect(forged.status).toBe(403);
    expect(await selfStatus(s, browser)).toBe(200);
    const out = await post(browser, `${s.site}/auth/ui/logout`, { form_token: form }, sameOrigin(s));
    expect(out.status).toBe(303);
    expect(await selfStatus(s, browser)).toBe(401);
  });
});

describe('web UI over HTTP: the token form', () => {
  it('an empty name: 400 with the API’s message in the form, and what was typed kept', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    for (const name of ['', '   ']) {
      const page = await post(
        browser,
        `${s.site}/auth/ui/tokens`,
        { name, description: 'kept description', expires_in_days: '30', form_token: form },
        sameOrigin(s),
      );
      expectHtmlPage(page, 400);
      expect(page.body).toMatch(
        /<p class="field-error" id="form-error" role="alert">name must not be empty<\/p>/,
      );
      expect(page.body).toContain('aria-invalid="true"');
      expect(page.body).toContain('value="kept description"');
      expect(page.body).toMatch(/<option value="30" selected>/);
    }
    expect(await createdByForms(s)).toEqual([]);
  });

  it('an expiry the form does not offer: 400, nothing created', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    for (const days of ['2', '-1', '1e9', 'abc', '30.5']) {
      const page = await post(
        browser,
        `${s.site}/auth/ui/tokens`,
        { name: `expiry-${days}`, description: 'd', expires_in_days: days, form_token: form },
        sameOrigin(s),
      );
      expectHtmlPage(page, 400);
      expect(page.body, days).toContain('Choose an expiry from the list.');
      expect(page.body, days).toContain(`value="expiry-${days}"`);
    }
    expect(await createdByForms(s)).toEqual([]);
  });

  it('a created token is shown once, by a short-lived HttpOnly Strict cookie on the tokens path; 30 days is 30 days', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    const before = Date.now();
    const created = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: 'deploy-bot', description: 'CI deploys', expires_in_days: '30', form_token: form },
      sameOrigin(s),
    );
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/auth/ui/tokens');
    // The token is in no URL and no body of the redirect.
    expect(created.body).toBe('');
    const flash = setCookieOf(created, 'portcullis_flash') ?? '';
    const attributes = flash.split('; ').slice(1);
    expect(attributes).toContain('Path=/auth/ui/tokens');
    expect(attributes).toContain('HttpOnly');
    expect(attributes).toContain('SameSite=Strict');
    const maxAge = Number(
      /^Max-Age=(\d+)$/.exec(attributes.find((a) => a.startsWith('Max-Age=')) ?? '')?.[1],
    );
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(60);

    const shown = last(await visit(browser, locationOf(created)));
    expectHtmlPage(shown);
    const token =
      /id="new-token" class="mono" type="text" readonly value="([^"]+)"/.exec(shown.body)?.[1] ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{20,}/);
    expect((await s.t.fetch('/auth/v1/self', { headers: bearer(token) })).status).toBe(200);
    // The page that shows it clears the cookie; the next look does not show it.
    expect(setCookieOf(shown, 'portcullis_flash')).toMatch(
      /^portcullis_flash=; Path=\/auth\/ui\/tokens; Max-Age=0/,
    );
    const again = last(await visit(browser, `${s.site}/auth/ui/tokens`));
    expectHtmlPage(again);
    expect(again.body).not.toContain(token);
    expect(again.body).not.toContain('id="new-token"');
    expect(again.body).toContain('deploy-bot');

    const [stored] = (await listAll(s.t, 'METHOD_TOKEN')).filter(
      (entry) => entry.metadata?.['io.flipt.auth.token.name'] === 'deploy-bot',
    );
    expect(stored?.metadata?.['io.flipt.auth.token.description']).toBe('CI deploys');
    const expiresAt = Date.parse(stored?.expiresAt ?? '');
    const thirtyDays = 30 * 86_400_000;
    expect(expiresAt).toBeGreaterThanOrEqual(before + thirtyDays - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + thirtyDays + 1000);
  });

  it('“never” stores no expiry; the delete page names the token and deleting says so', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: 'forever', expires_in_days: '0', form_token: form },
      sameOrigin(s),
    );
    const [stored] = await createdByForms(s);
    expect(stored?.metadata?.['io.flipt.auth.token.name']).toBe('forever');
    expect(stored?.expiresAt ?? undefined).toBeUndefined();
    const confirm = last(await visit(browser, `${s.site}/auth/ui/tokens/${stored?.id}/delete`));
    expect(confirm.body).toContain('<strong>forever</strong>');
    const [deleteForm] = formsOf(confirm);
    expect(deleteForm?.action).toBe(`${s.site}/auth/ui/tokens/${stored?.id}/delete`);
    const done = await post(browser, deleteForm?.action ?? '', deleteForm?.fields ?? {}, sameOrigin(s));
    expect(done.status).toBe(303);
    const after = last(await visit(browser, locationOf(done)));
    expect(after.body).toContain('Token “forever” deleted.');
    expect(await tokenStatus(s.t, stored?.id ?? '')).toBe(404);
  });
});

describe('web UI over HTTP: paging and the method filter', () => {
  it('45 tokens: 20 a page, “Next page” through all of them, “First page” back; the filter lists what the API lists', async () => {
    const s = await setup();
    // One OIDC session besides the tokens, for the filter.
    const browser = await signedInBrowser(s);
    const created = await Promise.all(
      Array.from({ length: 45 }, (_, index) => createToken(s.t, { name: `token-${index}` })),
    );

    async function walk(method?: string): Promise<{ pages: Page[]; ids: string[] }> {
      const query = method === undefined ? '' : `?method=${method}`;
      const pages = [last(await visit(browser, `${s.site}/auth/ui/tokens${query}`))];
      for (;;) {
        const page = last(pages);
        expectHtmlPage(page);
        expect(idsOf(page).length).toBeLessThanOrEqual(20);
        const next = linkOf(page, 'Next page');
        if (next === undefined) break;
        expect(pages.length).toBeLessThan(10);
        pages.push(last(await visit(browser, next)));
      }
      return { pages, ids: pages.flatMap(idsOf) };
    }

    // The 45, and the token Flipt's bootstrap stored at start.
    const stored = await listAll(s.t, 'METHOD_TOKEN');
    expect(stored).toHaveLength(46);
    expect(stored.map((entry) => entry.id)).toEqual(expect.arrayContaining(created.map((token) => token.id)));
    const tokens = await walk();
    expect(tokens.pages.map((page) => idsOf(page).length)).toEqual([20, 20, 6]);
    expect(new Set(tokens.ids).size).toBe(46);
    expect([...tokens.ids].sort()).toEqual(stored.map((entry) => entry.id).sort());
    // No "First page" on the first; on the others it goes back to the first.
    expect(linkOf(tokens.pages[0] as Page, 'First page')).toBeUndefined();
    for (const page of tokens.pages.slice(1)) {
      const first = linkOf(page, 'First page');
      expect(first).toBeDefined();
      const back = last(await visit(browser, first ?? ''));
      expect(idsOf(back)).toEqual(idsOf(tokens.pages[0] as Page));
    }

    for (const method of ['METHOD_TOKEN', 'METHOD_NONE', 'METHOD_OIDC']) {
      const shown = await walk(method);
      const listed = await listAll(s.t, method);
      expect([...shown.ids].sort(), method).toEqual(listed.map((entry) => entry.id).sort());
      // The filter shows what it filters by, and the pages keep it.
      expect(shown.pages[0]?.body).toContain(`<option value="${method}" selected>`);
      for (const page of shown.pages.slice(1))
        expect(new URL(page.url).searchParams.get('method')).toBe(method);
    }
    expect((await listAll(s.t, 'METHOD_OIDC')).length).toBe(1);
    expect((await listAll(s.t, 'METHOD_NONE')).length).toBe(47);
  });
});

describe('web UI over HTTP: login refusals come back to the login page', () => {
  /** The callback's redirect to the login page, and the login page it ended on. */
  const endsOnLogin = (callback: Page[]) => {
    expect(callback).toHaveLength(2);
    const [refusal, login] = callback as [Page, Page];
    expect(refusal.status).toBe(303);
    expect(new URL(locationOf(refusal)).pathname).toBe('/auth/ui/login');
    expectHtmlPage(login);
    expect(new URL(login.url).pathname).toBe('/auth/ui/login');
    return login;
  };

  it('OIDC email_matches refusing a user: the login page says so in words, not JSON; the cookie is gone', async () => {
    const s = await setup({ oidc: { email_matches: ['@flipt\\.io$'] } });
    const browser = s.browser();
    const { callback } = await loginThroughUi(s, browser, { user: 'eve', returnTo: '/auth/ui/tokens' });
    const refusal = callback[0] as Page;
    expect(refusal.headers.get('content-type')).toBeNull();
    expect(setCookieOf(refusal, 'portcullis_return_to')).toMatch(
      /^portcullis_return_to=; Path=\/; Max-Age=0/,
    );
    expect(new URL(locationOf(refusal)).searchParams.get('return_to')).toBe('/auth/ui/tokens');
    const login = endsOnLogin(callback);
    expect(login.body).toMatch(/role="alert">\s*<p>Sign-in was refused \(email is not allowed\)\.<\/p>/);
    expect(login.body).not.toContain('"code"');
    expect(await selfStatus(s, browser)).toBe(401);
    expect(await listAll(s.t, 'METHOD_OIDC')).toEqual([]);
    // Shown once.
    expect(last(await visit(browser, login.url)).body).not.toContain('Sign-in was refused');
  });

  it('a GitHub user outside allowed_organizations: the login page says so', async () => {
    const s = await setup({ github: { allowed_organizations: ['octo-org'] } });
    const browser = s.browser();
    const login = last(await visit(browser, `${s.site}/auth/ui/login`));
    expect(
      buttonsOf(login)
        .map((button) => button.label)
        .sort(),
    ).toEqual(['GitHub', 'Google']);
    const { callback } = await loginThroughUi(s, browser, { label: 'GitHub', user: 'stranger' });
    const page = endsOnLogin(callback);
    expect(page.body).toMatch(/<p>Sign-in was refused \([^<]*organization[^<]*\)\.<\/p>/);
    expect(await listAll(s.t, 'METHOD_GITHUB')).toEqual([]);
    // A member is let in, and comes back to the session page.
    const member = s.browser();
    const admitted = await loginThroughUi(s, member, { label: 'GitHub', user: 'octocat' });
    expect(admitted.callback[0]?.headers.get('location')).toBe('/auth/ui/');
    const session = last(admitted.callback);
    expect(session.body).toContain('The Octocat');
    // Its picture's origin, and only that, is added to img-src.
    expect(cspDirectives(session).get('img-src')).toBe("'self' https://avatars.githubusercontent.com");
    expect(session.body).toContain('src="https://avatars.githubusercontent.com/u/583231?v=4"');
  });

  it('the provider down: “unavailable” on the login page', async () => {
    const s = await setup();
    await s.op.close();
    const browser = s.browser();
    const login = last(await visit(browser, `${s.site}/auth/ui/login`));
    const pages = await visit(browser, buttonHref(login, 'Google'));
    expect(pages[0]?.status).toBe(303);
    const page = last(pages);
    expectHtmlPage(page);
    expect(new URL(page.url).pathname).toBe('/auth/ui/login');
    expect(page.body).toContain('Sign-in is unavailable right now.');
  });

  it('a start that fails leaves no return_to behind: a login started later with the API ends on Flipt’s /', async () => {
    const closed = await freePort();
    const down = { issuer_url: `http://127.0.0.1:${closed}`, client_id: 'c', client_secret: 's' };
    const s = await setup({ providers: { down: { ...down, redirect_address: 'http://localhost:1' } } });
    const browser = s.browser();
    const failed = await visit(browser, `${s.site}/auth/ui/login/oidc/down?return_to=%2Fauth%2Fui%2Ftokens`);
    expect(last(failed).body).toContain('Sign-in is unavailable right now.');
    // Then this browser logs in with the API (as Flipt's own UI does), at the provider that is up.
    const callback = await loginThroughApi(s, browser, 'mark');
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe('/');
  });

  it('the issuer at a closed port: the same', async () => {
    const closed = await freePort();
    const s = await setup();
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: {
          oidc: {
            enabled: true,
            providers: {
              google: {
                issuer_url: `http://127.0.0.1:${closed}`,
                client_id: 'c',
                client_secret: 's',
                redirect_address: s.base,
              },
            },
          },
        },
      },
    });
    const browser = s.browser();
    const page = last(await visit(browser, t.url('/auth/ui/login/oidc/google')));
    expectHtmlPage(page);
    expect(page.body).toContain('Sign-in is unavailable right now.');
  });

  it('the same refusal without the UI’s return_to cookie (a login started with the API) still answers Flipt’s JSON', async () => {
    const s = await setup({ oidc: { email_matches: ['@flipt\\.io$'] } });
    const callback = await loginThroughApi(s, s.browser(), 'eve');
    expect(callback.status).toBe(403);
    expect(callback.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(callback.body)).toEqual({
      code: 7,
      message: 'callback: email is not allowed',
      details: [],
    });
    // And a login not started from the UI ends with Flipt's 302 to /.
    const admitted = await loginThroughApi(s, s.browser(), 'mark');
    expect(admitted.status).toBe(302);
    expect(admitted.headers.get('location')).toBe('/');
    expect(JSON.parse(admitted.body)).toMatchObject({
      clientToken: '',
      authentication: { method: 'METHOD_OIDC' },
    });
  });
});

describe('web UI over HTTP: where a login returns to', () => {
  const OFFSITE = [
    'https://evil.example',
    '//evil.example',
    '/\\evil.example',
    '%2F%2Fevil.example',
    '/%5Cevil.example',
    '%2f%2fevil.example',
  ];

  function expectReturnToCookie(page: Page, value: string): void {
    const cookie = setCookieOf(page, 'portcullis_return_to') ?? '';
    const [pair, ...attributes] = cookie.split('; ');
    expect(decodeURIComponent(pair?.slice('portcullis_return_to='.length) ?? '')).toBe(value);
    // state_lifetime (10 minutes by default) in seconds.
    expect(attributes).toEqual(['Path=/', 'Max-Age=600', 'HttpOnly', 'SameSite=Lax']);
  }

  it('a return_to elsewhere is stored as /auth/ui/, whether sent encoded or raw', async () => {
    const s = await setup();
    const browser = s.browser();
    for (const value of OFFSITE) {
      for (const query of [encodeURIComponent(value), value]) {
        const start = await browser.request(`${s.site}/auth/ui/login/oidc/google?return_to=${query}`, {
          headers: { accept: ACCEPT_HTML },
        });
        expect(start.status, query).toBe(303);
        expect(new URL(locationOf(start)).origin).toBe(new URL(s.op.issuer).origin);
        expectReturnToCookie(start, '/auth/ui/');
        // The login page's buttons carry the checked value too.
        const login = await browser.request(`${s.site}/auth/ui/login?return_to=${query}`, {
          headers: { accept: ACCEPT_HTML },
        });
        expect(new URL(buttonHref(login, 'Google')).searchParams.get('return_to'), query).toBe('/auth/ui/');
      }
    }
  });

  it('after a login started with an offsite return_to the browser lands on /auth/ui/; a good one comes back exactly', async () => {
    const s = await setup();
    for (const value of OFFSITE) {
      const { callback } = await loginThroughUi(s, s.browser(), { returnTo: value });
      expect(callback[0]?.status, value).toBe(302);
      expect(callback[0]?.headers.get('location'), value).toBe('/auth/ui/');
      expect(last(callback).status).toBe(200);
      expect(last(callback).body).toContain('Mark Phelps');
    }
    const browser = s.browser();
    const { start, callback } = await loginThroughUi(s, browser, { returnTo: '/auth/ui/tokens?x=1' });
    expectReturnToCookie(start[0] as Page, '/auth/ui/tokens?x=1');
    expect(callback[0]?.headers.get('location')).toBe('/auth/ui/tokens?x=1');
    expect(setCookieOf(callback[0] as Page, 'portcullis_return_to')).toMatch(/Max-Age=0/);
    expect(last(callback).url).toBe(`${s.site}/auth/ui/tokens?x=1`);
    expectHtmlPage(last(callback));
  });

  it('the return_to cookie is checked again at the end: one changed to another site gives /auth/ui/', async () => {
    const s = await setup();
    const browser = s.browser();
    const login = last(await visit(browser, `${s.site}/auth/ui/login?return_to=%2Fauth%2Fui%2Ftokens`));
    const start = await visit(browser, buttonHref(login, 'Google'), { stop: redirectsToCallback });
    const callbackUrl = await throughProvider(browser, last(start), 'mark');
    await browser.jar.setCookie('portcullis_return_to=%2F%2Fevil.example; Path=/', s.site);
    const callback = await browser.request(callbackUrl, { headers: { accept: ACCEPT_HTML } });
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe('/auth/ui/');
  });

  it('an unknown sign-in option goes back to the login page with “There is no such sign-in option.”', async () => {
    const s = await setup();
    const browser = s.browser();
    for (const path of ['/auth/ui/login/nope', '/auth/ui/login/oidc/nope', '/auth/ui/login/token']) {
      const pages = await visit(browser, `${s.site}${path}?return_to=%2Fauth%2Fui%2Ftokens`);
      expect(pages[0]?.status, path).toBe(303);
      expect(setCookieOf(pages[0] as Page, 'portcullis_return_to'), path).toBeUndefined();
      const page = last(pages);
      expectHtmlPage(page);
      expect(new URL(page.url).pathname).toBe('/auth/ui/login');
      expect(new URL(page.url).searchParams.get('return_to')).toBe('/auth/ui/tokens');
      expect(page.body).toContain('There is no such sign-in option.');
    }
  });
});

describe('web UI over HTTP: who may see the pages', () => {
  it('not a browser: Flipt’s 401 JSON without a credential; the page with a static token', async () => {
    const s = await setup();
    for (const path of ['/auth/ui/', '/auth/ui/tokens']) {
      for (const accept of [undefined, 'application/json', '*/*']) {
        const response = await s.t.fetch(path, accept === undefined ? {} : { headers: { accept } });
        expect(response.status, `${path} ${accept}`).toBe(401);
        expect(response.headers.get('location')).toBeNull();
        expect(await response.json()).toEqual({
          code: 16,
          message: 'request was not authenticated',
          details: [],
        });
      }
      const page = await s.t.fetch(path, { headers: bearer(ADMIN) });
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      // A browser without a session is sent to log in, to come back here.
      const browser = await s.t.fetch(path, { headers: { accept: ACCEPT_HTML }, redirect: 'manual' });
      expect(browser.status).toBe(303);
      expect(browser.headers.get('location')).toBe(`/auth/ui/login?return_to=${encodeURIComponent(path)}`);
    }
    // A wrong bearer token is no one either.
    expect((await s.t.fetch('/auth/ui/tokens', { headers: bearer('wrong') })).status).toBe(401);
  });

  it('authentication.required: false: every page, the login page and its starts too, says signing in is not needed (200, no loop, no button)', async () => {
    const s = await setup({ required: false });
    const browser = s.browser();
    for (const path of ['/auth/ui/', '/auth/ui/tokens', '/auth/ui/login', '/auth/ui/login/oidc/google']) {
      const pages = await visit(browser, `${s.site}${path}`);
      expect(pages).toHaveLength(1);
      expectHtmlPage(pages[0] as Page);
      expect(pages[0]?.body).toContain('Signing in is not needed here');
      expect(pages[0]?.body).not.toContain('Login with');
      expect(pages[0]?.headers.get('set-cookie') ?? '', path).not.toMatch(
        /flipt_client_state|portcullis_return_to/,
      );
    }
  });

  it('no session-compatible method (token only): /auth/ui/login is Flipt’s 404, and a browser keeps its 401', async () => {
    const tokenOnly = {
      required: true,
      methods: { token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } } },
    };
    const t = await serveForTest({ authentication: tokenOnly });
    for (const path of ['/auth/ui/login', '/auth/ui/', '/auth/ui/tokens', '/auth/ui/assets/ui.css', '/']) {
      for (const headers of [{ accept: ACCEPT_HTML }, { accept: ACCEPT_HTML, ...bearer(ADMIN) }]) {
        const response = await t.fetch(path, { headers, redirect: 'manual' });
        expect(response.status, path).toBe(404);
        expect(await response.json()).toEqual({ code: 5, message: 'Not Found', details: [] });
      }
    }
    // A gateway: a browser on a protected path (the upstream's /auth/ui/ too) gets the 401, no redirect.
    const upstream = await startUpstream();
    const gateway = await serveForTest({ gateway: { upstream: upstream.url }, authentication: tokenOnly });
    for (const path of ['/app/page?x=1', '/auth/ui/login', '/auth/ui/tokens']) {
      const page = await gateway.fetch(path, { headers: { accept: ACCEPT_HTML }, redirect: 'manual' });
      expect(page.status, path).toBe(401);
      expect(page.headers.get('location'), path).toBeNull();
      expect(await page.json()).toEqual({ code: 16, message: 'request was not authenticated', details: [] });
    }
    expect(upstream.received).toEqual([]);
  });

  it('a gateway: a browser to a protected path goes to the login page with return_to, an API client gets 401', async () => {
    const upstream = await startUpstream();
    const s = await setup();
    const t = await serveForTest({
      gateway: { upstream: upstream.url },
      authentication: {
        required: true,
        methods: {
          token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } },
          oidc: {
            enabled: true,
            providers: {
              google: {
                issuer_url: s.op.issuer,
                client_id: 'c',
                client_secret: 's',
                redirect_address: s.base,
              },
            },
          },
        },
      },
    });
    const page = await t.fetch('/app/page?x=1', { headers: { accept: ACCEPT_HTML }, redirect: 'manual' });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/auth/ui/login?return_to=%2Fapp%2Fpage%3Fx%3D1');
    const api = await t.fetch('/app/page?x=1', { redirect: 'manual' });
    expect(api.status).toBe(401);
    expect(upstream.received).toEqual([]);
    // A form post cannot be replayed after a login: it comes back to the session page.
    const form = await t.fetch('/app/form', {
      method: 'POST',
      headers: { accept: ACCEPT_HTML, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
      redirect: 'manual',
    });
    expect(form.status).toBe(302);
    expect(form.headers.get('location')).toBe('/auth/ui/login');
  });
});

describe('web UI over HTTP: embedding', () => {
  async function embedded(ui: boolean | undefined) {
    const s = await setup();
    const app = Fastify();
    await app.register(portcullis, {
      object: {
        authentication: {
          required: true,
          session: { domain: 'localhost' },
          methods: {
            token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } },
            oidc: {
              enabled: true,
              providers: {
                google: {
                  issuer_url: s.op.issuer,
                  client_id: 'client-google',
                  client_secret: 'secret-google',
                  redirect_address: s.base,
                },
              },
            },
          },
        },
      },
      env: {},
      logDestination: { write: () => undefined },
      ...(ui !== undefined && { ui }),
    });
    app.get('/app/page', async (request) => ({ caller: request.authentication?.id }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    onTestFinished(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return { url };
  }

  it('without ui: true there is no /auth/ui; a browser to an app route gets the 401', async () => {
    for (const ui of [undefined, false]) {
      const { url } = await embedded(ui);
      for (const path of ['/auth/ui/login', '/auth/ui/', '/auth/ui/assets/ui.js']) {
        const response = await fetch(`${url}${path}`, { headers: { accept: ACCEPT_HTML } });
        expect(response.status, `${ui} ${path}`).toBe(404);
      }
      const page = await fetch(`${url}/app/page`, { headers: { accept: ACCEPT_HTML }, redirect: 'manual' });
      expect(page.status).toBe(401);
    }
  });

  it('with ui: true the pages are there and a browser to an app route is sent to log in', async () => {
    const { url } = await embedded(true);
    const login = await fetch(`${url}/auth/ui/login`, { headers: { accept: ACCEPT_HTML } });
    expect(login.status).toBe(200);
    expect(await login.text()).toMatch(/Login with (<[^>]*>)?Google</);
    const page = await fetch(`${url}/app/page?x=1`, { headers: { accept: ACCEPT_HTML }, redirect: 'manual' });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/auth/ui/login?return_to=%2Fapp%2Fpage%3Fx%3D1');
    const api = await fetch(`${url}/app/page`);
    expect(api.status).toBe(401);
    const admin = await fetch(`${url}/app/page`, { headers: bearer(ADMIN) });
    expect(admin.status).toBe(200);
  });
});

describe('web UI over HTTP: behind a prefix (X-Forwarded-Prefix /gate)', () => {
  it('links, asset URLs, cookie paths and redirects carry the prefix, through a whole login and a token', async () => {
    const s = await setup({ prefix: '/gate' });
    const browser = s.browser();
    // No session: to the prefixed login page, to come back to the prefixed page.
    const denied = await browser.request(`${s.site}/auth/ui/tokens?x=1`, {
      headers: { accept: ACCEPT_HTML },
    });
    expect(denied.status).toBe(303);
    expect(denied.headers.get('location')).toBe(
      '/gate/auth/ui/login?return_to=%2Fgate%2Fauth%2Fui%2Ftokens%3Fx%3D1',
    );
    const login = last(await visit(browser, locationOf(denied)));
    expectHtmlPage(login);
    for (const [, url] of login.body.matchAll(/(?:href|src)="([^#"][^"]*)"/g)) {
      expect(url, 'every link of the login page').toMatch(/^\/gate\//);
    }
    const start = await browser.request(buttonHref(login, 'Google'), { headers: { accept: ACCEPT_HTML } });
    expect(new URL(buttonHref(login, 'Google')).pathname).toBe('/gate/auth/ui/login/oidc/google');
    expect(start.status).toBe(303);
    expectReturnToCookieValue(start, '/gate/auth/ui/tokens?x=1');
    expect(setCookieOf(start, 'flipt_client_state')).toContain(
      'Path=/gate/auth/v1/method/oidc/google/callback',
    );
    const first = last(await visit(browser, locationOf(start), { stop: redirectsToCallback }));
    const callback = await visit(browser, await throughProvider(browser, first, 'mark'));
    expect(callback[0]?.headers.get('location')).toBe('/gate/auth/ui/tokens?x=1');
    const tokens = last(callback);
    expectHtmlPage(tokens);
    for (const [, url] of tokens.body.matchAll(/(?:href|src|action)="([^#"][^"]*)"/g)) {
      expect(url, 'every link of the tokens page').toMatch(/^\/gate\//);
    }

    // A created token: a redirect and a flash cookie on the prefixed path.
    const created = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: 'prefixed', form_token: formTokenOf(tokens) },
      sameOrigin(s),
    );
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/gate/auth/ui/tokens');
    expect(setCookieOf(created, 'portcullis_flash')).toContain('Path=/gate/auth/ui/tokens;');
    const shown = last(await visit(browser, locationOf(created)));
    expect(shown.body).toContain('id="new-token"');
    const [stored] = await createdByForms(s);
    expect(shown.body).toContain(`href="/gate/auth/ui/tokens/${stored?.id}/delete"`);

    // An unknown option: back to the prefixed login page, its flash on the prefixed path.
    const unknown = await browser.request(`${s.site}/auth/ui/login/nope`, {
      headers: { accept: ACCEPT_HTML },
    });
    expect(unknown.headers.get('location')).toBe('/gate/auth/ui/login?return_to=%2Fgate%2Fauth%2Fui%2F');
    expect(setCookieOf(unknown, 'portcullis_flash')).toContain('Path=/gate/auth/ui/login;');

    // Log out: back to the prefixed login page.
    const out = await post(
      browser,
      `${s.site}/auth/ui/logout`,
      { form_token: formTokenOf(tokens) },
      sameOrigin(s),
    );
    expect(out.headers.get('location')).toBe('/gate/auth/ui/login');
    expect(setCookieOf(out, 'portcullis_flash')).toContain('Path=/gate/auth/ui/login;');
    // And / of a server without an upstream sends a browser to the prefixed session page.
    const root = await browser.request(`${s.site}/`, { headers: { accept: ACCEPT_HTML } });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/gate/auth/ui/');
  });

  it('a refused login comes back to the prefixed login page', async () => {
    const s = await setup({ prefix: '/gate', oidc: { email_matches: ['@flipt\\.io$'] } });
    const browser = s.browser();
    const { callback } = await loginThroughUi(s, browser, { user: 'eve', returnTo: '/gate/auth/ui/tokens' });
    expect(callback[0]?.headers.get('location')).toBe(
      '/gate/auth/ui/login?return_to=%2Fgate%2Fauth%2Fui%2Ftokens',
    );
    expect(setCookieOf(callback[0] as Page, 'portcullis_flash')).toContain('Path=/gate/auth/ui/login;');
    expect(last(callback).body).toContain('Sign-in was refused');
  });

  function expectReturnToCookieValue(page: Page, value: string): void {
    const cookie = setCookieOf(page, 'portcullis_return_to') ?? '';
    expect(decodeURIComponent(/^portcullis_return_to=([^;]*)/.exec(cookie)?.[1] ?? '')).toBe(value);
  }
});

describe('web UI over HTTP: the store down', () => {
  it('a login started while the store is down does not blame the sign-in provider', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.kill());
    const s = await setup({
      session: {
        storage: { type: 'redis', redis: { host: redis.host, port: redis.port, net_timeout: '500ms' } },
      },
    });
    await redis.kill();
    const page = last(await visit(s.browser(), `${s.site}/auth/ui/login/oidc/google`));
    expectHtmlPage(page);
    expect(page.body).toMatch(/role="alert">\s*<p>[^<]*Try again/);
    expect(page.body).not.toContain('provider could not be reached');
  });

  it('the tokens page answers 503 with a page while Redis is down, and recovers when it is back', async () => {
    const redis = await startRedis({ persistent: true });
    onTestFinished(() => redis.kill());
    const s = await setup({
      session: {
        storage: {
          type: 'redis',
          redis: { host: redis.host, port: redis.port, net_timeout: '500ms' },
        },
      },
    });
    const browser = await signedInBrowser(s);
    const { id } = await createToken(s.t, { name: 'kept' });
    expect(idsOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)))).toContain(id);

    await redis.kill();
    // A session (in Redis) and a static token (not in Redis, but the list is).
    for (const headers of [{}, bearer(ADMIN)]) {
      for (const path of ['/auth/ui/tokens', '/auth/ui/']) {
        if (path === '/auth/ui/' && 'authorization' in headers) continue;
        const pages = await visit(browser, `${s.site}${path}`, { headers });
        expect(pages, path).toHaveLength(1);
        const page = pages[0] as Page;
        expectHtmlPage(page, 503);
      }
    }
    // Looking a token up fails: the delete page says so, not that there is no such token.
    const confirm = last(
      await visit(browser, `${s.site}/auth/ui/tokens/${id}/delete`, { headers: bearer(ADMIN) }),
    );
    expectHtmlPage(confirm, 503);
    expect(confirm.body).toContain('could not be looked up');
    expect(confirm.body).not.toContain('No such token');
    expect(s.t.server.address).toBeDefined();

    await redis.restart();
    await expect
      .poll(
        async () =>
          (await browser.request(`${s.site}/auth/ui/tokens`, { headers: { accept: ACCEPT_HTML } })).status,
        {
          timeout: 10_000,
          interval: 200,
        },
      )
      .toBe(200);
    const page = last(await visit(browser, `${s.site}/auth/ui/tokens`));
    expectHtmlPage(page);
    expect(idsOf(page)).toContain(id);
  });
});

describe('web UI over HTTP: what a review found', () => {
  /** One request sent as written (no client would send `%2e` as a segment: WHATWG URL parsers remove it). */
  async function raw(s: Setup, head: string, body = ''): Promise<RawAnswer> {
    const port = Number(new URL(s.base).port);
    const text = `${head}\r\nHost: localhost:${port}\r\nConnection: close\r\n${body === '' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`;
    const { answers } = await rawExchange(port, [text]);
    return answers[0] as RawAnswer;
  }

  it('a token id that is a dot segment (.) is no token: 404 pages, never the list taken for a token', async () => {
    const s = await setup();
    const credential = `Bearer ${ADMIN}`;
    const headers = `Authorization: ${credential}\r\nAccept: ${ACCEPT_HTML}`;
    for (const id of ['%2e', '%2E', '.', '%2e%2e']) {
      const confirm = await raw(s, `GET /auth/ui/tokens/${id}/delete HTTP/1.1\r\n${headers}`);
      expect(confirm.status, `GET ${id}`).toBe(404);
      expect(confirm.body, `GET ${id}`).toContain('No such token');
      const body = `form_token=${formToken(credential)}`;
      const remove = await raw(
        s,
        `POST /auth/ui/tokens/${id}/delete HTTP/1.1\r\n${headers}\r\nContent-Type: application/x-www-form-urlencoded`,
        body,
      );
      expect(remove.status, `POST ${id}`).toBe(404);
      expect(remove.body, `POST ${id}`).toContain('No such token');
    }
    // Nothing was deleted: the bootstrap token is still listed.
    expect((await listAll(s.t, 'METHOD_TOKEN')).length).toBeGreaterThan(0);
  });

  it('a query cannot make the tokens page say something: a bad pageToken or method is described, not repeated', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const said = 'Your tokens were compromised, send one to security@evil.example';
    for (const query of [`pageToken=${encodeURIComponent(said)}`, `method=${encodeURIComponent(said)}`]) {
      const page = last(await visit(browser, `${s.site}/auth/ui/tokens?${query}`));
      expectHtmlPage(page, 400);
      expect(page.body).not.toContain('compromised');
      expect(page.body).toContain('Start again from the first page');
    }
  });

  it('deleting your own session signs you out: its cookies are cleared, and the login page says why', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const self = await browser.request(`${s.site}/auth/v1/self`);
    const { id } = JSON.parse(self.body) as { id: string };
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    const answer = await post(
      browser,
      `${s.site}/auth/ui/tokens/${id}/delete`,
      { form_token: form },
      sameOrigin(s),
    );
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/auth/ui/login');
    expect(setCookieOf(answer, 'flipt_client_token')).toMatch(/Max-Age=0/);
    const login = last(await visit(browser, `${s.site}/auth/ui/login`));
    expectHtmlPage(login);
    expect(login.body).toContain('Your session was deleted');
  });

  it('errors and unknown paths are pages for a browser (with the page headers) and Flipt’s JSON for others', async () => {
    const s = await setup();
    const browser = await signedInBrowser(s);
    const unknown = last(await visit(browser, `${s.site}/auth/ui/nope`));
    expectHtmlPage(unknown, 404);
    const json = await s.t.fetch('/auth/ui/nope');
    expect(json.status).toBe(404);
    expect(await json.json()).toEqual({ code: 5, message: 'Not Found', details: [] });
    const form = formTokenOf(last(await visit(browser, `${s.site}/auth/ui/tokens`)));
    const huge = await post(
      browser,
      `${s.site}/auth/ui/tokens`,
      { name: 'x'.repeat(20_000), form_token: form },
      sameOrigin(s),
    );
    expectHtmlPage(huge, 413);
    // The pages take forms only: JSON is the API's.
    const asJson = await browser.request(`${s.site}/auth/ui/tokens`, {
      method: 'POST',
      body: JSON.stringify({ name: 'json', form_token: form }),
      headers: { 'content-type': 'application/json', accept: ACCEPT_HTML, ...sameOrigin(s) },
    });
    expectHtmlPage(asJson, 415);
    const names = (await listAll(s.t, 'METHOD_TOKEN')).map((t) => t.metadata?.['io.flipt.auth.token.name']);
    expect(names).not.toContain('json');
  });

  it('HEAD of a page without a session comes back to that page after login, as GET does', async () => {
    const s = await setup();
    const head = await s.t.fetch('/auth/ui/tokens?x=1', {
      method: 'HEAD',
      headers: { accept: ACCEPT_HTML },
      redirect: 'manual',
    });
    expect(head.status).toBe(303);
    expect(head.headers.get('location')).toBe(
      `/auth/ui/login?return_to=${encodeURIComponent('/auth/ui/tokens?x=1')}`,
    );
  });

  it('HEAD does not start a login; / sends only browsers to the UI; the start-up log says whether the UI is on', async () => {
    const s = await setup();
    const head = await s.t.fetch('/auth/ui/login/oidc/google', { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(404);
    expect(head.headers.get('set-cookie')).toBeNull();
    const browser = await s.t.fetch('/', { headers: { accept: ACCEPT_HTML }, redirect: 'manual' });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe('/auth/ui/');
    const client = await s.t.fetch('/', { redirect: 'manual' });
    expect(client.status).toBe(404);
    expect(s.t.logs.some((line) => line.msg === 'web UI on')).toBe(true);
    const tokenOnly = await serveForTest({
      authentication: { required: true, methods: { token: { enabled: true } } },
    });
    expect(tokenOnly.logs.some((line) => String(line.msg).startsWith('web UI off'))).toBe(true);
  });
});
