/**
 * A fake GitHub for tests and the conformance suite: the OAuth web flow (a login page, codes, PKCE, access tokens)
 * and the REST endpoints portcullis reads (`/user`, `/user/orgs`, `/user/teams`), with GitHub's pagination, headers
 * and error bodies, seeded from a fixture. Its behaviour is checked against GitHub's own client SDK (Octokit) in
 * `fake-github.test.ts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Fixture, FixtureApp, FixtureUser } from './fixture.ts';

/** Where GitHub serves what: github.com splits the API onto its own host; Enterprise puts it under `/api/v3`. */
export type Layout = 'github.com' | 'enterprise';

/** A failure to inject into an API path (`/user`, `/user/teams`, ...). */
export interface Fault {
  /** Answer with this status and GitHub's error body. */
  readonly status?: number;
  /** Answer as GitHub does when the rate limit is used up (403, `x-ratelimit-remaining: 0`). */
  readonly rateLimited?: boolean;
  /** Wait this long before answering (a timeout, when longer than the client waits). */
  readonly delayMs?: number;
  /** Answer with exactly this body (and `status`, 200 by default): an answer GitHub should never give. */
  readonly body?: string;
  /** Extra headers for the answer (a `Link` to somewhere else, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** How many requests it applies to; all of them when absent. */
  readonly times?: number;
}

export interface FakeGitHubOptions {
  readonly fixture: Fixture;
  readonly layout?: Layout;
  /** Host to listen on (default `localhost`). */
  readonly host?: string;
  /** Port of the web (OAuth) server; 0 or absent for a free one. */
  readonly port?: number;
  /** Port of the API server in the github.com layout. */
  readonly apiPort?: number;
}

/** A running fake. */
export interface FakeGitHub {
  /** What `server_url` should be. */
  readonly serverUrl: string;
  /** What `api_url` should be. */
  readonly apiUrl: string;
  /** Every API request, in order: method, path (without `/api/v3`), query. */
  readonly apiRequests: Array<{ method: string; path: string; query: string }>;
  fault(path: string, fault: Fault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';
/** The scopes that let a token read organisation and team memberships. */
const ORG_SCOPES = ['read:org', 'user', 'repo'];
const CODE_TTL_MS = 10 * 60 * 1000;
const RATE_LIMIT = 5000;
const UA_REQUIRED =
  'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).';

interface Grant {
  readonly app: FixtureApp;
  readonly user: FixtureUser;
  readonly redirectUri: string;
  readonly scopes: string;
  readonly codeChallenge: string | undefined;
  readonly expiresAt: number;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A stable id for an organisation or team name, as GitHub gives every object a number. */
function idOf(kind: string, name: string): number {
  return createHash('sha256').update(`${kind}:${name}`).digest().readUInt32BE(0) % 90_000_000;
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) {
    body += chunk;
    if (body.length > 64 * 1024) break;
  }
  return body;
}

/** Form fields or JSON fields of a request body, and its query: GitHub reads OAuth parameters from either. */
async function parameters(request: IncomingMessage, url: URL): Promise<Record<string, string>> {
  const body = await readBody(request);
  const fields: Record<string, string> = Object.fromEntries(url.searchParams);
  if ((request.headers['content-type'] ?? '').includes('application/json') && body !== '') {
    for (const [key, value] of Object.entries(JSON.parse(body) as Record<string, unknown>)) {
      if (typeof value === 'string') fields[key] = value;
    }
  } else {
    Object.assign(fields, Object.fromEntries(new URLSearchParams(body)));
  }
  return fields;
}

/** Whether `redirectUri` is allowed by GitHub's rule: same host and port as the callback URL, path at or under it. */
function redirectAllowed(app: FixtureApp, redirectUri: string): boolean {
  let callback: URL;
  let redirect: URL;
  try {
    callback = new URL(app.callback_url);
    redirect = new URL(redirectUri);
  } catch {
    return false;
  }
  const base = callback.pathname.replace(/\/$/, '');
  return (
    redirect.protocol === callback.protocol &&
    redirect.host === callback.host &&
    (redirect.pathname === callback.pathname || redirect.pathname.startsWith(`${base}/`)) &&
    !redirect.pathname.split('/').includes('..')
  );
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
}

function githubError(
  response: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
) {
  json(response, status, { message, documentation_url: DOCS, status: String(status) }, headers);
}

function loginPage(app: FixtureApp, fields: Record<string, string>, error?: string): string {
  const hidden = Object.entries(fields)
    .filter(([name]) => name !== 'login')
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n    ');
  return `<!DOCTYPE html>
<html>
  <head><title>Sign in to GitHub · GitHub</title></head>
  <body>
    <h1>Sign in to GitHub</h1>
    <p>to continue to <strong>${escapeHtml(app.client_id)}</strong></p>
    ${error === undefined ? '' : `<p class="flash-error">${escapeHtml(error)}</p>`}
    <form method="post" action="/login/oauth/authorize">
    ${hidden}
    <input type="text" name="login" value="" autocomplete="username">
    <input type="password" name="password" value="">
    <button type="submit" name="authorize" value="1">Authorize</button>
    </form>
  </body>
</html>`;
}

/** Starts the fake: one server in the Enterprise layout, two (web and API) in the github.com layout. */
export async function startFakeGitHub(options: FakeGitHubOptions): Promise<FakeGitHub> {
  const layout = options.layout ?? 'github.com';
  const host = options.host ?? 'localhost';
  const users = new Map(options.fixture.users.map((user) => [user.login, user]));
  const apps = new Map(options.fixture.apps.map((app) => [app.client_id, app]));
  const grants = new Map<string, Grant>();
  const tokens = new Map<string, { user: FixtureUser; scopes: string }>();
  const faults = new Map<string, Fault & { remaining: number }>();
  const apiRequests: FakeGitHub['apiRequests'] = [];
  const used = new Map<string, number>();

  async function authorizePage(request: IncomingMessage, response: ServerResponse, url: URL) {
    const fields =
      request.method === 'POST' ? await parameters(request, url) : Object.fromEntries(url.searchParams);
    const app = apps.get(fields.client_id ?? '');
    if (app === undefined) {
      response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404</h1><p>Not Found</p>');
      return;
    }
    const redirectUri = fields.redirect_uri || app.callback_url;
    if (!redirectAllowed(app, redirectUri)) {
      const back = new URL(app.callback_url);
      back.searchParams.set('error', 'redirect_uri_mismatch');
      back.searchParams.set(
        'error_description',
        'The redirect_uri MUST match the registered callback URL for this application.',
      );
      back.searchParams.set(
        'error_uri',
        'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch',
      );
      if (fields.state !== undefined) back.searchParams.set('state', fields.state);
      response.writeHead(302, { location: back.href }).end();
      return;
    }
    if (request.method !== 'POST') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(app, fields));
      return;
    }
    const user = users.get(fields.login ?? '');
    if (user === undefined) {
      response
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(loginPage(app, fields, 'Incorrect username or password.'));
      return;
    }
    if (fields.code_challenge !== undefined && fields.code_challenge_method !== 'S256') {
      githubError(response, 400, 'code_challenge_method must be S256');
      return;
    }
    const code = randomBytes(10).toString('hex');
    grants.set(code, {
      app,
      user,
      redirectUri,
      scopes: (fields.scope ?? '')
        .split(/[\s,]+/)
        .filter(Boolean)
        .join(','),
      codeChallenge: fields.code_challenge,
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    if (fields.state !== undefined) back.searchParams.set('state', fields.state);
    response.writeHead(302, { location: back.href }).end();
  }

  /** `POST /login/oauth/access_token`: errors come back with status 200, as GitHub sends them. */
  async function accessToken(request: IncomingMessage, response: ServerResponse, url: URL) {
    const fields = await parameters(request, url);
    const basic = request.headers.authorization?.startsWith('Basic ')
      ? Buffer.from(request.headers.authorization.slice(6), 'base64').toString()
      : undefined;
    const clientId = fields.client_id ?? basic?.split(':')[0];
    const clientSecret = fields.client_secret ?? basic?.split(':').slice(1).join(':');
    const answer = (body: Record<string, string>) => {
      if ((request.headers.accept ?? '').includes('application/json')) json(response, 200, body);
      else {
        response.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
        response.end(new URLSearchParams(body).toString());
      }
    };
    const refuse = (error: string, description: string) =>
      answer({
        error,
        error_description: description,
        error_uri: `https://docs.github.com/apps/troubleshooting#${error}`,
      });

    const app = apps.get(clientId ?? '');
    if (app === undefined || app.client_secret !== clientSecret) {
      return refuse(
        'incorrect_client_credentials',
        'The client_id and/or client_secret passed are incorrect.',
      );
    }
    const grant = grants.get(fields.code ?? '');
    if (grant === undefined || grant.app !== app || grant.expiresAt < Date.now()) {
      return refuse('bad_verification_code', 'The code passed is incorrect or expired.');
    }
    grants.delete(fields.code ?? '');
    if (fields.redirect_uri !== undefined && fields.redirect_uri !== grant.redirectUri) {
      return refuse(
        'redirect_uri_mismatch',
        'The redirect_uri MUST match the registered callback URL for this application.',
      );
    }
    const verifier = fields.code_verifier;
    const pkceOk =
      grant.codeChallenge === undefined
        ? verifier === undefined
        : verifier !== undefined &&
          createHash('sha256').update(verifier).digest('base64url') === grant.codeChallenge;
    if (!pkceOk) return refuse('bad_verification_code', 'The code passed is incorrect or expired.');
    const token = `gho_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`;
    tokens.set(token, { user: grant.user, scopes: grant.scopes });
    answer({ access_token: token, token_type: 'bearer', scope: grant.scopes });
  }

  function userJson(user: FixtureUser) {
    return {
      login: user.login,
      id: user.id,
      node_id: Buffer.from(`04:User${user.id}`).toString('base64'),
      avatar_url: user.avatar_url ?? `https://avatars.githubusercontent.com/u/${user.id}?v=4`,
      gravatar_id: '',
      type: 'User',
      site_admin: false,
      name: user.name ?? null,
      company: null,
      blog: '',
      location: null,
      email: user.email ?? null,
      bio: null,
      public_repos: 0,
      followers: 0,
      following: 0,
      created_at: '2011-01-25T18:44:36Z',
      updated_at: '2024-01-01T00:00:00Z',
    };
  }

  function orgJson(login: string) {
    return {
      login,
      id: idOf('org', login),
      node_id: Buffer.from(`012:Organization${idOf('org', login)}`).toString('base64'),
      description: null,
    };
  }

  /** One page of `items` with GitHub's `per_page`/`page` rules and `Link` header. */
  function page(
    response: ServerResponse,
    url: URL,
    publicBase: string,
    items: readonly unknown[],
    headers: Record<string, string>,
  ) {
    const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page') ?? 30) || 30, 1), 100);
    const number = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number, rel: string) => {
      const target = new URL(`${publicBase}${url.pathname.replace(/^\/api\/v3/, '')}`);
      for (const [key, value] of url.searchParams) if (key !== 'page') target.searchParams.set(key, value);
      target.searchParams.set('page', String(n));
      return `<${target.href}>; rel="${rel}"`;
    };
    const links = [
      ...(number > 1 ? [link(number - 1, 'prev')] : []),
      ...(number < last ? [link(number + 1, 'next'), link(last, 'last')] : []),
      ...(number > 1 ? [link(1, 'first')] : []),
    ];
    json(response, 200, items.slice((number - 1) * perPage, number * perPage), {
      ...headers,
      ...(links.length > 0 && { link: links.join(', ') }),
    });
  }

  async function api(request: IncomingMessage, response: ServerResponse, url: URL, publicBase: string) {
    const path = url.pathname.replace(/^\/api\/v3(?=\/)/, '');
    apiRequests.push({ method: request.method ?? 'GET', path, query: url.search });
    if (!request.headers['user-agent']) {
      response.writeHead(403, { 'content-type': 'text/plain' }).end(UA_REQUIRED);
      return;
    }
    const fault = faults.get(path);
    if (fault !== undefined && fault.remaining > 0) {
      fault.remaining--;
      if (fault.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault.rateLimited) {
        const reset = String(Math.floor(Date.now() / 1000) + 3600);
        return githubError(
          response,
          403,
          'API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.',
          {
            'x-ratelimit-limit': String(RATE_LIMIT),
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': reset,
            'x-ratelimit-used': String(RATE_LIMIT),
            'x-ratelimit-resource': 'core',
          },
        );
      }
      if (fault.body !== undefined) {
        response.writeHead(fault.status ?? 200, { 'content-type': 'application/json', ...fault.headers });
        response.end(fault.body);
        return;
      }
      if (fault.status !== undefined) {
        return githubError(response, fault.status, STATUS_CODES[fault.status] ?? 'Error', fault.headers);
      }
    }
    const authorization = request.headers.authorization ?? '';
    const match = /^(?:Bearer|token) (\S+)$/i.exec(authorization);
    if (match === null) return githubError(response, 401, 'Requires authentication');
    const grant = tokens.get(match[1] as string);
    if (grant === undefined) return githubError(response, 401, 'Bad credentials');

    const count = (used.get(match[1] as string) ?? 0) + 1;
    used.set(match[1] as string, count);
    const headers = {
      'x-ratelimit-limit': String(RATE_LIMIT),
      'x-ratelimit-remaining': String(RATE_LIMIT - count),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(count),
      'x-ratelimit-resource': 'core',
      'x-oauth-scopes': grant.scopes.split(',').join(', '),
      'x-github-media-type': 'github.v3; format=json',
    };
    const { user } = grant;
    if (request.method !== 'GET') return githubError(response, 404, 'Not Found', headers);
    // As GitHub: organisation memberships need one of these scopes; without them only public ones show (the
    // fixture's are all private), and teams are refused.
    const readsOrgs = grant.scopes.split(',').some((scope) => ORG_SCOPES.includes(scope));
    const orgHeaders = { ...headers, 'x-accepted-oauth-scopes': ORG_SCOPES.join(', ') };
    switch (path) {
      case '/user':
        return json(response, 200, userJson(user), headers);
      case '/user/orgs':
        return page(response, url, publicBase, readsOrgs ? (user.orgs ?? []).map(orgJson) : [], orgHeaders);
      case '/user/teams': {
        if (!readsOrgs) {
          return githubError(
            response,
            403,
            'Resource not accessible without the read:org, repo or user scope',
            orgHeaders,
          );
        }
        const teams = Object.entries(user.teams ?? {}).flatMap(([org, slugs]) =>
          slugs.map((slug) => ({
            id: idOf('team', `${org}/${slug}`),
            node_id: Buffer.from(`04:Team${idOf('team', `${org}/${slug}`)}`).toString('base64'),
            name: slug,
            slug,
            description: null,
            privacy: 'closed',
            permission: 'pull',
            organization: orgJson(org),
          })),
        );
        return page(response, url, publicBase, teams, orgHeaders);
      }
      default:
        return githubError(response, 404, 'Not Found', headers);
    }
  }

  /** `POST /_fake/faults` `{path, ...fault}` adds a fault; `DELETE` clears them (for the fake run as a process). */
  async function control(request: IncomingMessage, response: ServerResponse) {
    if (request.method === 'DELETE') faults.clear();
    else {
      const { path, ...fault } = JSON.parse(await readBody(request)) as Fault & { path: string };
      faults.set(path, { ...fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
    }
    json(response, 200, { faults: Object.fromEntries(faults) });
  }

  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  const origin = (port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const servers: Server[] = [];
  let webBase = '';
  let apiBase = '';
  const handle = (serves: 'web' | 'api' | 'both') => (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    const run = async () => {
      if (serves !== 'api' && url.pathname === '/login/oauth/authorize')
        return authorizePage(request, response, url);
      if (serves !== 'api' && url.pathname === '/login/oauth/access_token' && request.method === 'POST') {
        return accessToken(request, response, url);
      }
      if (serves !== 'api' && url.pathname === '/_fake/faults') return control(request, response);
      if (serves === 'api') return api(request, response, url, apiBase);
      if (serves === 'both' && url.pathname.startsWith('/api/v3/'))
        return api(request, response, url, apiBase);
      response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404</h1><p>Not Found</p>');
    };
    run().catch((error: unknown) => {
      if (!response.headersSent) githubError(response, 500, `fake GitHub failed: ${String(error)}`);
    });
  };

  if (layout === 'enterprise') {
    const server = createServer(handle('both'));
    servers.push(server);
    webBase = origin(await listen(server, options.port ?? 0));
    apiBase = `${webBase}/api/v3`;
  } else {
    const web = createServer(handle('web'));
    const apiServer = createServer(handle('api'));
    servers.push(web, apiServer);
    webBase = origin(await listen(web, options.port ?? 0));
    apiBase = origin(await listen(apiServer, options.apiPort ?? 0));
  }

  return {
    serverUrl: webBase,
    apiUrl: apiBase,
    apiRequests,
    fault(path, fault) {
      faults.set(path, { ...fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults.clear();
    },
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
}
