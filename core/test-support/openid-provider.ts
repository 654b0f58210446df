import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type SigningAlgorithmWithNone } from 'oidc-provider';
import { type Browser, formsOf, type Page } from './browser.ts';

/** A client registered at the test provider. */
export interface TestClient {
  readonly client_id: string;
  readonly client_secret: string;
  readonly redirect_uris: readonly string[];
  readonly post_logout_redirect_uris?: readonly string[];
  readonly backchannel_logout_uri?: string;
  readonly token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post';
  /** The algorithm ID tokens are signed with (a key for it must be among the provider's keys). */
  readonly id_token_signed_response_alg?: SigningAlgorithmWithNone;
}

/** Who logs in: the login name typed into the provider's form is the `sub`. */
export type Accounts = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface TestProviderOptions {
  readonly clients: readonly TestClient[];
  /** Private signing keys (JWK with `kid` and `alg`); one new RS256 key when absent. */
  readonly keys?: readonly JWK[];
  /** Claims per login; any other login gets `<login>@example.com` and a name. */
  readonly accounts?: Accounts;
  /** Claims only userinfo returns, never the ID token (to test `fetch_extra_user_info`). */
  readonly userinfoOnly?: Readonly<Record<string, unknown>>;
  /** Serve HTTPS with this certificate. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
  /** Listen on this port (to restart a provider at the same issuer). */
  readonly port?: number;
}

/** An OpenID provider (panva's oidc-provider, OpenID Certified) running on localhost for one test file. */
export interface TestProvider {
  readonly issuer: string;
  readonly port: number;
  /** The public half of the signing keys, as its JWKS serves them. */
  readonly keys: readonly JWK[];
  close(): Promise<void>;
}

/** Runs `create` without oidc-provider's warnings about its development defaults, which these tests choose. */
function quietly<T>(create: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('oidc-provider WARNING: a quick start development-only')) warn(...args);
  };
  try {
    return create();
  } finally {
    console.warn = warn;
  }
}

/** A new private signing key for the test provider. */
export async function signingKey(kid: string, alg = 'RS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest } = jwk;
  return rest;
}

/**
 * Starts oidc-provider with its development login and consent pages (any login name, any password), RP-initiated
 * and back-channel logout, and the standard `email` and `profile` scopes.
 */
export async function startTestProvider(options: TestProviderOptions): Promise<TestProvider> {
  const keys = options.keys ?? [await signingKey('key-1')];
  const scheme = options.tls === undefined ? 'http' : 'https';
  const server: Server =
    options.tls === undefined
      ? createHttpServer()
      : createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, 'localhost', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `${scheme}://localhost:${port}`;

  const accounts = options.accounts ?? {};
  const provider = quietly(
    () =>
      new Provider(issuer, {
        clients: options.clients.map((client) => ({
          ...client,
          redirect_uris: [...client.redirect_uris],
          post_logout_redirect_uris: [...(client.post_logout_redirect_uris ?? [])],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          ...(client.backchannel_logout_uri !== undefined && { backchannel_logout_session_required: true }),
        })),
        jwks: { keys: keys.map((key) => ({ ...key })) },
        cookies: { keys: ['test-provider-cookie-key'] },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
        claims: {
          openid: ['sub'],
          email: ['email', 'email_verified'],
          profile: ['name', 'picture', 'profile', 'groups'],
        },
        // Claims go into the ID token as well as userinfo, as most providers (Google, Okta, Keycloak) put them.
        conformIdTokenClaims: false,
        features: {
          devInteractions: { enabled: true },
          backchannelLogout: { enabled: true },
          rpInitiatedLogout: { enabled: true },
          userinfo: { enabled: true },
        },
        // oidc-provider refuses to call loopback addresses (its SSRF guard); portcullis runs on one here.
        fetch: (url, init) => {
          const { dispatcher: _guard, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
          return fetch(url, rest);
        },
        async findAccount(_ctx, sub) {
          const claims = accounts[sub] ?? {
            email: `${sub}@example.com`,
            email_verified: true,
            name: `User ${sub}`,
          };
          return {
            accountId: sub,
            async claims(use) {
              return { sub, ...claims, ...(use === 'userinfo' ? options.userinfoOnly : {}) };
            },
          };
        },
      }),
  );
  provider.on('server_error', (_ctx, error) => console.error('test provider error', error));
  provider.on('backchannel.error', (_ctx, error, client) =>
    console.error('test provider: back-channel logout failed', client.clientId, error),
  );
  server.on('request', provider.callback());

  return {
    issuer,
    port,
    keys: keys.map(publicPart),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Signs in at the test provider's pages as `user` (login, then consent when asked), starting from an authorization
 * URL, and returns the callback URL it redirects to, without requesting it.
 */
export async function callbackUrl(browser: Browser, url: string, user = 'mark'): Promise<string> {
  const redirectsToCallback = (page: Page) => page.headers.get('location')?.includes('/callback?') === true;
  let page = await browser.navigate(url, {}, redirectsToCallback);
  for (let step = 0; !redirectsToCallback(page) && step < 3; step++) {
    const [form] = formsOf(page);
    if (form === undefined) throw new Error(`no form at ${page.url} (${page.status})`);
    const values: Record<string, string> =
      form.fields.prompt === 'login' ? { login: user, password: 'any' } : {};
    page = await browser.submit(form, values, redirectsToCallback);
  }
  return new URL(page.headers.get('location') ?? '', page.url).href;
}
