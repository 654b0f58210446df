import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  accessibilityViolations,
  launchChromium,
  type WatchedPage,
  watchedPage,
} from '../core/test-support/chromium.ts';
import { ADMIN_TOKEN, signInAtProvider, startLoginWorld } from '../core/test-support/login-world.ts';
import { bearer, type TestServer } from '../core/test-support/server.ts';
import { startUpstream, type TestUpstream } from '../core/test-support/upstream.ts';

/** Flipt's 401 body. */
const UNAUTHENTICATED = { code: 16, message: 'request was not authenticated', details: [] };

interface Gateway {
  readonly t: TestServer;
  /** portcullis as the browser reaches it: `http://localhost:<port>`. */
  readonly base: string;
  readonly upstream: TestUpstream;
}

/**
 * portcullis as a gateway in front of the echo upstream, with OIDC (provider "google", the in-process OpenID
 * provider; only @flipt.io addresses admitted) and the static token `ADMIN_TOKEN` (id `admin`). `gateway` adds to
 * the gateway section.
 */
async function startGateway(gateway: Record<string, unknown> = {}): Promise<Gateway> {
  const upstream = await startUpstream();
  const { t, base } = await startLoginWorld({
    gateway: { upstream: upstream.url, ...gateway },
    oidc: { email_matches: ['@flipt\\.io$'] },
  });
  return { t, base, upstream };
}

let chromium: Browser;

beforeAll(async () => {
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
});

/** A page in a new browser context (its own cookies), which also records every URL on evil.example it asks for. */
async function open(): Promise<WatchedPage & { evil: string[] }> {
  const watched = await watchedPage(chromium);
  onTestFinished(() => watched.context.close());
  const evil: string[] = [];
  // Every request, redirects followed included; there is no such host here, so none would show as a page.
  watched.context.on('request', (request) => {
    if (/(^|\.)evil\.example$/.test(new URL(request.url()).hostname)) evil.push(request.url());
  });
  return { ...watched, evil };
}

/**
 * Waits for the end of a login: the first page after the provider's and the callback (any page that is neither;
 * a failed navigation elsewhere counts, as `chrome-error://`). A browser left on the callback (its answer shown) is
 * left there after 5 s, for the test's assertion on `page.url()` to tell.
 */
async function backFromProvider(page: Page, g: Gateway): Promise<void> {
  await page
    .waitForURL(
      (url) =>
        !(url.origin === g.base && url.pathname === '/auth/v1/method/oidc/google/callback') &&
        !(url.hostname === 'localhost' && url.origin !== g.base),
      { timeout: 5_000 },
    )
    .catch(() => undefined);
}

/** From portcullis's login page: "Login with Google", the provider's form, and back. */
async function logInWithGoogle(page: Page, g: Gateway, login: string): Promise<void> {
  await page.getByRole('link', { name: 'Login with Google' }).click();
  await page.waitForURL((url) => url.origin !== g.base);
  await signInAtProvider(page, login);
  await backFromProvider(page, g);
}

/** Errors that portcullis's own pages wrote to the console (the provider's pages load what this network lacks). */
function ownConsoleErrors(watched: WatchedPage, g: Gateway): string[] {
  return watched.consoleErrors.filter((line) => line.includes(g.base));
}

describe('gateway: a browser without a session is sent to the login page and back (Chromium)', () => {
  it('/app/page?x=1 → login page → provider → /app/page?x=1 served by the upstream, with the identity and no credential', async () => {
    const g = await startGateway();
    const watched = await open();
    const { page } = watched;

    await page.goto(`${g.base}/app/page?x=1`);
    expect(page.url()).toBe(`${g.base}/auth/ui/login?return_to=%2Fapp%2Fpage%3Fx%3D1`);
    expect(await page.getByRole('heading', { name: 'Sign in', level: 1 }).count()).toBe(1);
    expect(g.upstream.received.filter((r) => r.url.startsWith('/app/'))).toEqual([]);
    expect(await accessibilityViolations(page)).toEqual([]);

    await logInWithGoogle(page, g, 'mark');
    expect(page.url()).toBe(`${g.base}/app/page?x=1`);
    // Chromium shows the upstream's JSON as text.
    expect(JSON.parse((await page.locator('body').textContent()) ?? '')).toEqual({
      ok: true,
      url: '/app/page?x=1',
      bytes: 0,
    });

    const reached = g.upstream.received.filter((r) => r.url.startsWith('/app/'));
    expect(reached.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /app/page?x=1']);
    const headers = reached[0]?.headers ?? {};
    expect(headers).toMatchObject({
      'x-auth-request-method': 'METHOD_OIDC',
      'x-auth-request-email': 'mark@flipt.io',
    });
    expect(headers['x-auth-request-id']).toMatch(/\S/);
    expect(headers['x-auth-request-user']).toMatch(/\S/);
    // None of portcullis's cookies (the session's, the login state's, the return_to's), no Authorization, and the
    // session's client token in no header whatever its name. Cookies do not tell ports apart: the provider's own
    // (`_session`, also on localhost) do reach the upstream, as any cookie of the site does.
    const cookieNames = String(headers.cookie ?? '')
      .split(';')
      .map((pair) => pair.trim().split('=')[0])
      .filter((name) => name !== '');
    expect(cookieNames.filter((name) => /^(flipt_|portcullis_)/.test(String(name)))).toEqual([]);
    expect(headers.authorization).toBeUndefined();
    const session = (await watched.context.cookies(g.base)).find((c) => c.name === 'flipt_client_token');
    expect(session?.value).toMatch(/\S{16,}/);
    for (const [name, value] of Object.entries(headers)) {
      expect(String(value), name).not.toContain(String(session?.value));
    }
    // The return_to cookie was spent by the login.
    expect((await watched.context.cookies(g.base)).map((c) => c.name)).not.toContain('portcullis_return_to');

    // Signed in, the login page sends the browser on to a return_to on this origin at once.
    await page.goto(`${g.base}/auth/ui/login?return_to=${encodeURIComponent('/app/other?y=2')}`);
    expect(page.url()).toBe(`${g.base}/app/other?y=2`);
    expect(g.upstream.received.filter((r) => r.url.startsWith('/app/')).map((r) => r.url)).toEqual([
      '/app/page?x=1',
      '/app/other?y=2',
    ]);

    expect(watched.violations).toEqual([]);
    expect(ownConsoleErrors(watched, g)).toEqual([]);
  });

  it('a refused sign-in comes back to the login page with a plain message, keeping return_to; accessible in light and dark', async () => {
    const g = await startGateway();
    for (const colorScheme of ['light', 'dark'] as const) {
      const watched = await open();
      const { page } = watched;
      await page.emulateMedia({ colorScheme });

      await page.goto(`${g.base}/app/page?x=1`);
      // The theme really is the one asked for (the page's background).
      expect(await page.evaluate('getComputedStyle(document.body).backgroundColor'), colorScheme).toBe(
        colorScheme === 'dark' ? 'rgb(11, 17, 32)' : 'rgb(246, 247, 251)',
      );
      expect(await accessibilityViolations(page), `${colorScheme}: login page`).toEqual([]);

      await logInWithGoogle(page, g, 'eve');
      expect(page.url(), colorScheme).toBe(`${g.base}/auth/ui/login?return_to=%2Fapp%2Fpage%3Fx%3D1`);
      const alert = (await page.getByRole('alert').textContent()) ?? '';
      expect(alert).toContain('Sign-in was refused');
      expect(alert).not.toMatch(/"code"|\{/);
      expect(await accessibilityViolations(page), `${colorScheme}: login page with the refusal`).toEqual([]);
      expect(g.upstream.received.filter((r) => r.url.startsWith('/app/'))).toEqual([]);

      expect(watched.violations, colorScheme).toEqual([]);
      expect(ownConsoleErrors(watched, g), colorScheme).toEqual([]);
      await watched.context.close();
    }
  });

  it('return_to elsewhere (absolute, //host, backslash, percent-encoded once or twice, tab) ends on /auth/ui/ after a full login', async () => {
    const g = await startGateway();
    const values = [
      'https://evil.example',
      '//evil.example',
      '/\\evil.example',
      'https%3A%2F%2Fevil.example',
      '%2F%2Fevil.example',
      '%2F%5Cevil.example',
      '%252F%252Fevil.example',
      '/%09/evil.example',
    ];
    // Each value is given as return_to's value (encoded into the query). Written into the URL as they are, the
    // encoded ones reach the server decoded once, which gives a value already in the list, except /%09/evil.example
    // (then a tab): that one is also given as written.
    const login = (query: string) => `/auth/ui/login?return_to=${query}`;
    const starts = [
      ...values.map((value) => ({
        label: `value ${JSON.stringify(value)}`,
        start: login(encodeURIComponent(value)),
      })),
      { label: 'as written: return_to=/%09/evil.example', start: login('/%09/evil.example') },
      // The gateway's own redirect of a protected path that looks like another host.
      { label: 'protected path //evil.example/x', start: '//evil.example/x' },
    ];
    for (const { label, start } of starts) {
      const watched = await open();
      const { page } = watched;
      await page.goto(`${g.base}${start}`);
      expect(new URL(page.url()).pathname, label).toBe('/auth/ui/login');
      // The button carries the safe destination only.
      const href = await page.getByRole('link', { name: 'Login with Google' }).getAttribute('href');
      expect.soft(href, label).toBe('/auth/ui/login/oidc/google?return_to=%2Fauth%2Fui%2F');

      await logInWithGoogle(page, g, 'mark');
      expect.soft(page.url(), `${label}, after login`).toBe(`${g.base}/auth/ui/`);

      // Signed in now: the login page sends the browser straight to its return_to, which must be as safe.
      if (start.startsWith('/auth/ui/login?')) {
        // (A navigation to evil.example fails here: no such host. Then page.url() tells where it went.)
        await page.goto(`${g.base}${start}`).catch(() => undefined);
        expect.soft(page.url(), `${label}, signed in`).toBe(`${g.base}/auth/ui/`);
      }

      expect.soft(watched.evil, `${label}: requests to evil.example`).toEqual([]);
      expect.soft(watched.violations, label).toEqual([]);
      expect.soft(ownConsoleErrors(watched, g), label).toEqual([]);
      await watched.context.close();
    }
  });

  it('a portcullis_return_to cookie changed during the login is checked again at its end', async () => {
    const g = await startGateway();
    for (const value of ['//evil.example', '%2F%2Fevil.example', '/\\evil.example']) {
      const watched = await open();
      const { page } = watched;
      await page.goto(`${g.base}/app/page?x=1`);
      await page.getByRole('link', { name: 'Login with Google' }).click();
      await page.waitForURL((url) => url.origin !== g.base);
      const set = (await watched.context.cookies(g.base)).find((c) => c.name === 'portcullis_return_to');
      expect(set?.value, value).toBe(encodeURIComponent('/app/page?x=1'));
      // Replaces the cookie the button set (same name, host and path).
      await watched.context.addCookies([
        { name: 'portcullis_return_to', value: encodeURIComponent(value), url: `${g.base}/` },
      ]);
      expect(
        (await watched.context.cookies(g.base)).filter((c) => c.name === 'portcullis_return_to'),
        value,
      ).toHaveLength(1);
      await signInAtProvider(page, 'mark');
      await backFromProvider(page, g);
      expect.soft(page.url(), value).toBe(`${g.base}/auth/ui/`);
      expect.soft(watched.evil, `${value}: requests to evil.example`).toEqual([]);
      await watched.context.close();
    }
  });
});

describe('gateway: API clients and forward-auth keep their answers', () => {
  it('no Accept: text/html → Flipt’s 401 JSON with WWW-Authenticate; a browser’s POST → the login page without return_to; HEAD keeps it', async () => {
    const g = await startGateway();
    for (const accept of [undefined, 'application/json', '*/*']) {
      const response = await g.t.fetch('/app/page', {
        redirect: 'manual',
        headers: accept === undefined ? {} : { accept },
      });
      expect(response.status, String(accept)).toBe(401);
      expect(response.headers.get('content-type'), String(accept)).toMatch(/^application\/json/);
      expect(response.headers.get('www-authenticate'), String(accept)).toBe('request was not authenticated');
      expect(await response.json()).toEqual(UNAUTHENTICATED);
    }

    const html = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await g.t.fetch('/app/page?x=1', {
        method,
        redirect: 'manual',
        headers: { accept: html, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=1',
      });
      expect(response.status, method).toBe(302);
      expect(response.headers.get('location'), method).toBe('/auth/ui/login');
    }
    const head = await g.t.fetch('/app/page?x=1', {
      method: 'HEAD',
      redirect: 'manual',
      headers: { accept: html },
    });
    expect(head.status).toBe(302);
    expect(head.headers.get('location')).toBe('/auth/ui/login?return_to=%2Fapp%2Fpage%3Fx%3D1');

    // The API's own paths never redirect a browser: their answer is the API's.
    for (const path of ['/auth/v1/self', '/auth/v1/tokens']) {
      const response = await g.t.fetch(path, { redirect: 'manual', headers: { accept: html } });
      expect(response.status, path).toBe(401);
      expect(await response.json(), path).toEqual(UNAUTHENTICATED);
    }

    // A credential still passes (the redirect is only for those without one).
    const authorized = await g.t.fetch('/app/page', { headers: { ...bearer(ADMIN_TOKEN), accept: html } });
    expect(authorized.status).toBe(200);
    expect(g.upstream.received.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /app/page']);
  });

  it('a refused Authorization header gets the 401, even with Accept: text/html (hook and forward-auth)', async () => {
    const g = await startGateway();
    const html = 'text/html,application/xhtml+xml,*/*;q=0.8';
    const response = await g.t.fetch('/app/page', {
      redirect: 'manual',
      headers: { ...bearer('wrong'), accept: html },
    });
    const forward = await g.t.fetch('/auth/v1/forward?redirect=true', {
      redirect: 'manual',
      headers: { ...bearer('wrong'), accept: html, 'x-forwarded-uri': '/app/x?y=1' },
    });
    expect({ hook: response.status, forward: forward.status }).toEqual({ hook: 401, forward: 401 });
    expect(await response.json()).toEqual(UNAUTHENTICATED);
  });

  it('gateway.login_url still wins over the web UI: the hook and forward-auth send browsers there', async () => {
    const g = await startGateway({ login_url: 'https://sso.example.com/start' });
    const html = 'text/html,application/xhtml+xml,*/*;q=0.8';
    // The web UI runs (and would be the default)...
    expect((await g.t.fetch('/auth/ui/login')).status).toBe(200);
    // ...but the configured login URL is where browsers go, as it was before the UI.
    for (const method of ['GET', 'POST']) {
      const response = await g.t.fetch('/app/page?x=1', {
        method,
        redirect: 'manual',
        headers: { accept: html },
      });
      expect(response.status, method).toBe(302);
      expect(response.headers.get('location'), method).toBe('https://sso.example.com/start');
    }
    const forward = await g.t.fetch('/auth/v1/forward?redirect=true', {
      redirect: 'manual',
      headers: { accept: html, 'x-forwarded-uri': '/app/x?y=1' },
    });
    expect(forward.status).toBe(302);
    expect(forward.headers.get('location')).toBe('https://sso.example.com/start');
    // API clients: still the 401.
    expect((await g.t.fetch('/app/page', { redirect: 'manual' })).status).toBe(401);
    expect(g.upstream.received).toEqual([]);
  });

  it('forward-auth: ?redirect=true sends a browser to the login page with the original URI; otherwise the 401', async () => {
    const g = await startGateway();
    const html = 'text/html,application/xhtml+xml,*/*;q=0.8';
    const forward = (query: string, headers: Record<string, string>) =>
      g.t.fetch(`/auth/v1/forward${query}`, { redirect: 'manual', headers });

    const redirected = await forward('?redirect=true', { accept: html, 'x-forwarded-uri': '/app/x?y=1' });
    expect(redirected.status).toBe(302);
    expect(redirected.headers.get('location')).toBe('/auth/ui/login?return_to=%2Fapp%2Fx%3Fy%3D1');
    expect(redirected.headers.get('cache-control')).toBe('no-store');

    // The original method decides, as in the hook: a POST cannot be replayed after login.
    const posted = await forward('?redirect=true', {
      accept: html,
      'x-forwarded-uri': '/app/x?y=1',
      'x-forwarded-method': 'POST',
    });
    expect(posted.status).toBe(302);
    expect(posted.headers.get('location')).toBe('/auth/ui/login');

    for (const [label, query, headers] of [
      ['without redirect=true', '', { accept: html, 'x-forwarded-uri': '/app/x?y=1' }],
      ['redirect=false', '?redirect=false', { accept: html, 'x-forwarded-uri': '/app/x?y=1' }],
      [
        'redirect=true, no text/html',
        '?redirect=true',
        { accept: 'application/json', 'x-forwarded-uri': '/app/x' },
      ],
    ] as const) {
      const response = await forward(query, headers);
      expect(response.status, label).toBe(401);
      expect(response.headers.get('www-authenticate'), label).toBe('request was not authenticated');
      expect(await response.json(), label).toEqual(UNAUTHENTICATED);
    }

    // With a credential: 200 and the identity, redirect or not.
    const allowed = await forward('?redirect=true', {
      ...bearer(ADMIN_TOKEN),
      accept: html,
      'x-forwarded-uri': '/app/x?y=1',
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('x-auth-request-id')).toBe('admin');
    expect(g.upstream.received).toEqual([]);
  });
});
