import { createServer, request as httpRequest } from 'node:http';
import type { Page } from 'playwright-core';
import { onTestFinished } from 'vitest';
import { startFakeGitHub } from '../../conformance/fake-github/fake-github.ts';
import { readFixture } from '../../conformance/fake-github/fixture.ts';
import { type Accounts, startTestProvider, type TestProvider } from './openid-provider.ts';
import { freePort, retryOnPortClash } from './ports.ts';
import { serveForTest, type TestServer } from './server.ts';

const fixture = readFixture(new URL('../../conformance/fake-github/fixture.json', import.meta.url).pathname);

/** Who can log in at the provider: two of `@flipt.io`, one outside it (for `email_matches`). */
export const LOGIN_ACCOUNTS: Accounts = {
  mark: { email: 'mark@flipt.io', email_verified: true, name: 'Mark Phelps' },
  anna: { email: 'anna@flipt.io', email_verified: true, name: 'Anna' },
  eve: { email: 'eve@evil.example', email_verified: true, name: 'Eve' },
};

/** The static token every login world has, besides its logins. */
export const ADMIN_TOKEN = 'admin-secret';

export interface LoginWorldOptions {
  /** Settings of the OIDC method beyond its provider (`email_matches`, ...). */
  readonly oidc?: Record<string, unknown>;
  /** Settings of the "google" provider beyond its issuer, client and redirect address. */
  readonly google?: Record<string, unknown>;
  /** More OIDC providers besides "google" (the in-process OpenID provider). */
  readonly providers?: Record<string, Record<string, unknown>>;
  /** Enables GitHub (the fake) with these settings beyond the app's. */
  readonly github?: Record<string, unknown>;
  readonly session?: Record<string, unknown>;
  readonly required?: boolean;
  /** The `gateway` section. */
  readonly gateway?: Record<string, unknown>;
  /** Instead of {@link LOGIN_ACCOUNTS}. */
  readonly accounts?: Accounts;
  /** Reach portcullis through a proxy that mounts it under this prefix (sending `X-Forwarded-Prefix`). */
  readonly prefix?: string;
}

/** The provider, portcullis, and where a browser reaches it. */
export interface LoginWorld {
  readonly op: TestProvider;
  readonly t: TestServer;
  /** portcullis itself: `http://localhost:<port>`. */
  readonly base: string;
  /** Where the browser reaches portcullis: `base`, or the proxy and its prefix. */
  readonly site: string;
}

/** A reverse proxy mounting `target` under `prefix`, as nginx with `proxy_set_header X-Forwarded-Prefix` would. */
async function startPrefixProxy(target: string, prefix: string, port: number): Promise<void> {
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (!url.startsWith(`${prefix}/`)) return void response.writeHead(404).end();
    const forwarded = httpRequest(
      new URL(url.slice(prefix.length), target),
      { method: request.method, headers: { ...request.headers, 'x-forwarded-prefix': prefix } },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on('error', () => response.writeHead(502).end());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, 'localhost', resolve);
  });
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

/**
 * What the web UI's tests log in through, for one test: the in-process OpenID provider (OIDC provider "google"),
 * optionally the fake GitHub, and portcullis with the token method (static token {@link ADMIN_TOKEN}), on a port
 * known before the provider registers its callback (tried again if another test takes it).
 */
export function startLoginWorld(options: LoginWorldOptions = {}): Promise<LoginWorld> {
  return retryOnPortClash(() => startOnce(options));
}

async function startOnce(options: LoginWorldOptions): Promise<LoginWorld> {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  let site = base;
  if (options.prefix !== undefined) {
    const proxyPort = await freePort();
    await startPrefixProxy(base, options.prefix, proxyPort);
    site = `http://localhost:${proxyPort}${options.prefix}`;
  }
  const op = await startTestProvider({
    clients: [
      {
        client_id: 'client-google',
        client_secret: 'secret-google',
        redirect_uris: [`${site}/auth/v1/method/oidc/google/callback`],
        post_logout_redirect_uris: [site],
      },
    ],
    accounts: options.accounts ?? LOGIN_ACCOUNTS,
  });
  onTestFinished(() => op.close());
  let github: Record<string, unknown> | undefined;
  if (options.github !== undefined) {
    const callback = `${site}/auth/v1/method/github/callback`;
    const fake = await startFakeGitHub({
      layout: 'github.com',
      fixture: {
        ...fixture,
        apps: [{ client_id: 'gh-app', client_secret: 'gh-secret', callback_url: callback }],
      },
    });
    onTestFinished(() => fake.close());
    github = {
      enabled: true,
      client_id: 'gh-app',
      client_secret: 'gh-secret',
      redirect_address: site,
      server_url: fake.serverUrl,
      api_url: fake.apiUrl,
      scopes: ['user:email', 'read:org'],
      ...options.github,
    };
  }
  const t = await serveForTest({
    server: { host: 'localhost', http_port: port },
    ...(options.gateway !== undefined && { gateway: options.gateway }),
    authentication: {
      required: options.required ?? true,
      session: { domain: 'localhost', ...options.session },
      methods: {
        token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN_TOKEN } } } },
        oidc: {
          enabled: true,
          ...options.oidc,
          providers: {
            google: {
              issuer_url: op.issuer,
              client_id: 'client-google',
              client_secret: 'secret-google',
              redirect_address: site,
              scopes: ['email', 'profile'],
              ...options.google,
            },
            ...options.providers,
          },
        },
        ...(github !== undefined && { github }),
      },
    },
  });
  return { op, t, base, site };
}

/** In Chromium, at the test provider's own pages: its login form, then its consent page the first time. */
export async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any');
  await page.locator('button[type="submit"]').click();
  await page.waitForLoadState();
  if (await page.locator('button[type="submit"]').count()) {
    const consent = page.locator('form[action*="/confirm"] button[type="submit"], button[autofocus]');
    if (await consent.count()) await consent.first().click();
  }
}
