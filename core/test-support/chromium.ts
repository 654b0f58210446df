import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * Debian's Chromium (`apt-get install chromium`, which `.ci/run` does); `PORTCULLIS_CHROMIUM` for another binary.
 * Playwright's own browser download does not work here, so the system one is driven.
 */
export const chromiumPath = () => process.env.PORTCULLIS_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags for a machine with no network but loopback: without the background-networking ones Chromium keeps trying
 * Google's hosts, and as root it needs `--no-sandbox`.
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A Chromium for one test file; `close()` it in `afterAll`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: FLAGS });
}

/** A Content-Security-Policy violation a page reported (`securitypolicyviolation`), as the browser saw it. */
export interface CspViolation {
  readonly directive: string;
  readonly blockedURI: string;
  readonly sample: string;
}

/** A page in a new context (its own cookie jar), with the CSP violations it reports collected. */
export interface WatchedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every CSP violation the page's documents reported so far. */
  readonly violations: CspViolation[];
  /**
   * Every message the page wrote to its console at level error, as `<message> (<URL of the document or resource it
   * came from>)`, so that a test can tell its own pages' errors from those of another site the page went through.
   */
  readonly consoleErrors: string[];
}

/**
 * Opens a page in a fresh context of `browser` (`baseURL` for relative `goto`s) that records every
 * `securitypolicyviolation` event of every document it loads, and its console errors.
 */
export async function watchedPage(browser: Browser, baseURL?: string): Promise<WatchedPage> {
  const context = await browser.newContext(baseURL === undefined ? {} : { baseURL });
  const violations: CspViolation[] = [];
  const consoleErrors: string[] = [];
  await context.exposeBinding('__portcullisCspViolation', (_source, violation: CspViolation) => {
    violations.push(violation);
  });
  // Runs in each document before its own scripts (and is exempt from its CSP, being the browser's). A string: this
  // file is type-checked without the DOM's types.
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => {
      window.__portcullisCspViolation({
        directive: event.violatedDirective, blockedURI: event.blockedURI, sample: event.sample,
      });
    });`,
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  return { context, page, violations, consoleErrors };
}

/** One accessibility rule a page breaks, as axe-core reports it. */
export interface AccessibilityViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  /** The elements that break it (CSS selectors). */
  readonly targets: string[];
}

const axeSource = () => readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * The WCAG 2.1 A and AA rules the page's current document breaks, by axe-core (Deque's engine, run in the page),
 * with impact `serious` or `critical` unless `all` is set. axe's script is added with Playwright's `addScriptTag`,
 * which a strict CSP would block: it is evaluated instead, from the browser's side.
 */
export async function accessibilityViolations(
  page: Page,
  options: { all?: boolean } = {},
): Promise<AccessibilityViolation[]> {
  await page.evaluate(axeSource());
  const results = (await page.evaluate(`(async () => {
    const run = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return run.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
  })()`)) as AccessibilityViolation[];
  return options.all === true
    ? results
    : results.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}
