import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityViolations, launchChromium, watchedPage } from './chromium.ts';

/** Three small pages: one that breaks its own CSP, one that breaks accessibility rules, one that breaks neither. */
const pages: Record<string, { csp?: string; body: string }> = {
  '/csp': {
    csp: "default-src 'none'; script-src 'self'",
    body: '<!doctype html><html lang="en"><head><title>csp</title></head><body><main><h1>csp</h1><script>document.title = "ran";</script></main></body></html>',
  },
  '/inaccessible': {
    body: '<!doctype html><html><head><title>bad</title></head><body><img src="/x.png"><input type="text"><button></button></body></html>',
  },
  '/good': {
    csp: "default-src 'none'; style-src 'self'",
    body: '<!doctype html><html lang="en"><head><title>good</title></head><body><main><h1>Sign in</h1><form><label for="n">Name</label><input id="n" name="n"><button type="submit">Go</button></form></main></body></html>',
  },
};

describe('test-support chromium: Debian Chromium driven by playwright-core', () => {
  let browser: Browser;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const page = pages[request.url ?? ''];
      if (page === undefined) return response.writeHead(404).end();
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        ...(page.csp && { 'content-security-policy': page.csp }),
      });
      response.end(page.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('records the CSP violations a page reports, and the blocked script does not run', async () => {
    const { context, page, violations } = await watchedPage(browser, base);
    try {
      await page.goto('/csp');
      await expect.poll(() => violations.length).toBeGreaterThan(0);
      expect(violations[0]?.directive).toMatch(/^script-src/);
      expect(await page.title()).toBe('csp');
    } finally {
      await context.close();
    }
  });

  it('reports accessibility violations with axe-core, and none on a page that has none', async () => {
    const { context, page, violations } = await watchedPage(browser, base);
    try {
      await page.goto('/inaccessible');
      const found = (await accessibilityViolations(page)).map((violation) => violation.id);
      expect(found).toEqual(expect.arrayContaining(['image-alt', 'label', 'button-name']));
      await page.goto('/good');
      expect(await accessibilityViolations(page, { all: true })).toEqual([]);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
