import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  accessibilityViolations,
  launchChromium,
  type WatchedPage,
  watchedPage,
} from '../core/test-support/chromium.ts';
import { LOGIN_ACCOUNTS, signInAtProvider, startLoginWorld } from '../core/test-support/login-world.ts';
import { bearer } from '../core/test-support/server.ts';

/**
 * Where the screenshots go: `.tmp/ui-screenshots/` on every run (to look at), and `ui/screenshots/`, which the
 * README shows, only with `PORTCULLIS_UPDATE_SCREENSHOTS=1` (they differ on every run: times, tokens), so that running
 * the tests leaves the working tree as it was.
 */
const SCREENSHOTS =
  process.env.PORTCULLIS_UPDATE_SCREENSHOTS === '1'
    ? new URL('./screenshots/', import.meta.url)
    : new URL('../.tmp/ui-screenshots/', import.meta.url);

/** A picture server on loopback, as a provider's avatar host would be. */
async function startPictureServer(): Promise<{ url: string; close(): Promise<void> }> {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#0e7490"/><text x="32" y="42" font-size="28" text-anchor="middle" fill="#fff" font-family="sans-serif">MP</text></svg>';
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'image/svg+xml' }).end(svg);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/avatar.svg`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let chromium: Browser;
let picture: Awaited<ReturnType<typeof startPictureServer>>;

beforeAll(async () => {
  chromium = await launchChromium();
  picture = await startPictureServer();
});
afterAll(async () => {
  await chromium?.close();
  await picture?.close();
});

async function open(): Promise<WatchedPage> {
  const watched = await watchedPage(chromium);
  onTestFinished(() => watched.context.close());
  return watched;
}

/** No serious or critical WCAG 2.1 A/AA violation, in the light theme and in the dark one. */
async function expectAccessible(page: Page): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    expect({ colorScheme, violations: await accessibilityViolations(page) }).toEqual({
      colorScheme,
      violations: [],
    });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Presses Tab until the focused element's text is `name` (at most 20 times): what a keyboard user does. */
async function tabTo(page: Page, name: string): Promise<void> {
  for (let presses = 0; presses < 20; presses++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate('document.activeElement?.textContent?.trim()');
    if (focused === name) return;
  }
  throw new Error(`Tab never reached ${name}`);
}

describe('web UI in Chromium', () => {
  it('login with a button per provider, back where it started; tokens created once, used, deleted; log out', async () => {
    // OIDC ("google", the in-process provider, RP-initiated logout on) and GitHub (the fake).
    const s = await startLoginWorld({
      accounts: { ...LOGIN_ACCOUNTS, mark: { ...LOGIN_ACCOUNTS.mark, picture: picture.url } },
      oidc: { email_matches: ['@flipt\\.io$'] },
      google: { use_end_session_endpoint: true },
      github: {},
    });
    const { page, violations, consoleErrors } = await open();

    // A protected page of the UI, without a session: to the login page, which offers both providers.
    await page.goto(`${s.base}/auth/ui/tokens`);
    expect(new URL(page.url()).pathname).toBe('/auth/ui/login');
    expect(new URL(page.url()).searchParams.get('return_to')).toBe('/auth/ui/tokens');
    const buttons = page.getByRole('link', { name: /^Login with / });
    expect((await buttons.allTextContents()).sort()).toEqual(['Login with GitHub', 'Login with Google']);
    await expectAccessible(page);
    await page.screenshot({ path: new URL('login.png', SCREENSHOTS).pathname });

    // By keyboard: the skip link first, then the buttons; Enter starts the login.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await tabTo(page, 'Login with Google');
    await page.keyboard.press('Enter');
    await signInAtProvider(page, 'mark');
    await page.waitForURL(`${s.base}/auth/ui/tokens`);
    await expect.poll(() => page.getByRole('heading', { name: 'Tokens', level: 1 }).count()).toBe(1);

    // Create a token: shown once, works with a plain HTTP client, gone from the page on reload.
    await page.getByLabel('Name').fill('deploy-bot');
    await page.getByLabel('Description (optional)').fill('CI deploys');
    await page.getByLabel('Expires').selectOption('30');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.locator('#new-token').inputValue();
    expect(token).toMatch(/^[A-Za-z0-9_-]{20,}/);
    expect((await s.t.fetch('/auth/v1/self', { headers: bearer(token) })).status).toBe(200);
    await expectAccessible(page);
    await page.screenshot({ path: new URL('tokens.png', SCREENSHOTS).pathname, fullPage: true });
    await page.reload();
    expect(await page.locator('#new-token').count()).toBe(0);
    expect(await page.content()).not.toContain(token);
    expect(await page.getByRole('rowheader', { name: /deploy-bot/ }).count()).toBe(1);

    // Delete it, after a confirmation: then the token is refused.
    await page.getByRole('link', { name: 'Delete deploy-bot' }).click();
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Delete token' }).click();
    await expect.poll(() => page.getByText('Token “deploy-bot” deleted.').count()).toBe(1);
    expect((await s.t.fetch('/auth/v1/self', { headers: bearer(token) })).status).toBe(401);

    // Who am I.
    await page.goto(`${s.base}/auth/ui/`);
    await expect.poll(() => page.getByRole('heading', { name: 'Mark Phelps' }).count()).toBe(1);
    expect(await page.getByText('mark@flipt.io').count()).toBe(1);
    expect(
      await page.locator('img.avatar').evaluate((img: { naturalWidth: number }) => img.naturalWidth),
    ).toBeGreaterThan(0);
    await expectAccessible(page);
    await page.screenshot({ path: new URL('session.png', SCREENSHOTS).pathname });

    // Log out: RP-initiated at the provider, then the session is gone.
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === 'flipt_client_token');
    expect(session).toBeDefined();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((url) => !url.pathname.startsWith('/auth/ui/logout'));
    expect(
      (await s.t.fetch('/auth/v1/self', { headers: { cookie: `flipt_client_token=${session?.value}` } }))
        .status,
    ).toBe(401);

    expect(violations).toEqual([]);
    // The provider's own pages load things this closed network cannot reach; portcullis's pages log nothing.
    expect(consoleErrors.filter((line) => line.includes(s.base))).toEqual([]);
  });
});
