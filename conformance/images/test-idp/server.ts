/**
 * The test IdP: panva's oidc-provider (OpenID Certified) serving the conformance fixture's clients and users, with a
 * real password login. It stands in for Dex when no Dex image is at hand, so it copies what the suites can see of
 * Dex: the issuer path (`/dex`), Dex's endpoint paths, a login form posting `login` (the email) and `password`,
 * consent granted without a page (Dex's `oauth2.skipApprovalScreen: true`), and the claims Dex gives a static
 * password user. It runs in its own image, which holds oidc-provider and nothing else: only Node builtins and
 * oidc-provider are imported here.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration, errors, type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import type { IdpFixture, IdpUser } from './fixture.ts';
import { errorPage, loggedOutPage, loginPage, logoutPage } from './pages.ts';

/** Where and what the test IdP serves. */
export interface TestIdpOptions {
  readonly fixture: IdpFixture;
  /**
   * The issuer, as relying parties and browsers reach it (`http://idp:5556/dex` in the suites). Its path is where
   * the provider is mounted. Default: `http://<host>:<bound port>/dex`.
   */
  readonly issuer?: string;
  /** Interface to listen on; default `127.0.0.1`. */
  readonly host?: string;
  /** Port to listen on; default 0 (any free port). */
  readonly port?: number;
}

/** A running test IdP. */
export interface TestIdp {
  readonly issuer: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** The largest login form body read (bytes); a form of two short fields is far below it. */
const MAX_FORM_BYTES = 16 * 1024;

/** Dex's endpoint paths under the issuer (server/server.go, server/discovery), so URLs read the same on both. */
const routes = {
  authorization: '/auth',
  token: '/token',
  jwks: '/keys',
  userinfo: '/userinfo',
  end_session: '/logout',
} as const;

/** The claims Dex issues for a static password user (server/server.go `passwordDB.Login`), by scope. */
const claimsByScope = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  groups: ['groups'],
};

/** A fresh RS256 signing key per start (Dex also signs with RS256 keys it makes at start). */
function signingKey(): JWK {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...(privateKey.export({ format: 'jwk' }) as JWK),
    kid: randomBytes(8).toString('hex'),
    alg: 'RS256',
    use: 'sig',
  };
}

/**
 * Runs `create` without oidc-provider's warning about its in-memory adapter: memory is what this IdP wants (as Dex
 * here runs `storage: memory`), and the warning would read as a fault in every suite's output.
 */
function withoutMemoryAdapterWarning<T>(create: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('in-memory adapter')) warn(...args);
  };
  try {
    return create();
  } finally {
    console.warn = warn;
  }
}

function providerConfiguration(fixture: IdpFixture, mount: string): Configuration {
  const byId = new Map(fixture.users.map((user) => [user.userID, user]));
  return {
    clients: fixture.clients.map((client) => ({
      client_id: client.id,
      client_name: client.name,
      client_secret: client.secret,
      redirect_uris: [...client.redirectURIs],
      post_logout_redirect_uris: [...client.postLogoutRedirectURIs],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: claimsByScope,
    // Claims in the ID token as well as from userinfo, as Dex puts them.
    conformIdTokenClaims: false,
    // Confidential clients may use PKCE or not, as with Dex; oidc-provider only knows S256.
    pkce: { required: () => false },
    routes,
    ttl: { AccessToken: 3600, IdToken: 3600, Interaction: 600, Session: 86_400, Grant: 86_400 },
    clientBasedCORS: () => false,
    interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => {
          ctx.type = 'html';
          ctx.body = loggedOutPage();
        },
      },
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage('Error', `${out.error}: ${out.error_description ?? ''}`);
    },
    async findAccount(_ctx, sub) {
      const user = byId.get(sub);
      if (user === undefined) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: user.email,
          // Dex's static passwords default emailVerified to true; name and preferred_username are the username.
          email_verified: true,
          name: user.username,
          preferred_username: user.username,
          groups: [...user.groups],
        }),
      };
    },
  };
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_FORM_BYTES) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function send(res: ServerResponse, status: number, page: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(page);
}

/** Finds a user by the email typed in, ignoring case as Dex's storage does. */
function findUser(fixture: IdpFixture, login: string): IdpUser | undefined {
  const email = login.trim().toLowerCase();
  return fixture.users.find((user) => user.email.toLowerCase() === email);
}

/**
 * One interaction page (`<mount>/interaction/<uid>`): the login form (GET), its submission (POST), and consent,
 * which is granted at once for whatever the client asked (Dex with `skipApprovalScreen`).
 */
async function interaction(
  provider: Provider,
  fixture: IdpFixture,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
): Promise<void> {
  let details: Awaited<ReturnType<Provider['interactionDetails']>>;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (error) {
    if (error instanceof errors.SessionNotFound) {
      return send(
        res,
        400,
        errorPage('Login session not found', 'The login expired or its cookie is missing.'),
      );
    }
    throw error;
  }
  // The interaction cookie names the interaction; a URL for another one is a stale or forged page.
  if (details.uid !== uid)
    return send(res, 400, errorPage('Bad request', 'This login page is not the current one.'));

  if (details.prompt.name === 'login') {
    const action = req.url ?? '';
    if (req.method === 'GET') return send(res, 200, loginPage(action));
    if (req.method !== 'POST') return send(res, 405, errorPage('Method not allowed', req.method ?? ''));
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const user = findUser(fixture, login);
    if (user === undefined || user.password !== (form.get('password') ?? '')) {
      // Dex answers a refused password with the form again, status 200, the email kept (server/handlers.go).
      return send(res, 200, loginPage(action, { email: login, invalid: true }));
    }
    return provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.userID } },
      { mergeWithLastSubmission: false },
    );
  }

  if (details.prompt.name === 'consent') {
    const { session, params, grantId } = details;
    const grant =
      (grantId === undefined ? undefined : await provider.Grant.find(grantId)) ??
      new provider.Grant({ accountId: session?.accountId, clientId: String(params.client_id) });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } });
  }

  return send(res, 400, errorPage('Unsupported prompt', details.prompt.name));
}

/**
 * Starts the test IdP: an HTTP server on `host:port`, the provider mounted at the issuer's path, the login pages at
 * `<path>/interaction/<uid>`; anything outside the path is a 404. Discovery and every endpoint URL are built from the
 * request's `Host`, so a browser and a relying party that reach it under the issuer's host name see one set of URLs.
 * @throws Error when the port cannot be listened on.
 */
export async function startTestIdp(options: TestIdpOptions): Promise<TestIdp> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = options.issuer ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}/dex`;
  const mount = new URL(issuer).pathname.replace(/\/$/, '');
  const { fixture } = options;

  const provider = withoutMemoryAdapterWarning(
    () => new Provider(issuer, providerConfiguration(fixture, mount)),
  );
  provider.on('server_error', (_ctx, error) => console.error('test IdP: server error', error));
  const callback = provider.callback();

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0] ?? '/';
    if (mount !== '' && path !== mount && !path.startsWith(`${mount}/`)) {
      return send(res, 404, errorPage('Not found', `Nothing is served outside ${mount}.`));
    }
    const uid = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(path.slice(mount.length))?.[1];
    if (uid !== undefined) {
      interaction(provider, fixture, req, res, uid).catch((error: unknown) => {
        console.error('test IdP: interaction failed', error);
        if (!res.headersSent) send(res, 500, errorPage('Login error', 'The login could not be completed.'));
        else res.destroy();
      });
      return;
    }
    // oidc-provider routes without the mount path and rebuilds it from originalUrl when it writes URLs.
    Object.assign(req, { originalUrl: url });
    req.url = url.slice(mount.length) || '/';
    callback(req, res);
  });

  return {
    issuer,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
