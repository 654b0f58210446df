import * as grpc from '@grpc/grpc-js';
import { importJWK, type JWK, SignJWT } from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startFakeGitHub } from '../../conformance/fake-github/fake-github.ts';
import { readFixture } from '../../conformance/fake-github/fixture.ts';
import { grpcCallHeaders } from '../http/cookies.ts';
import { Browser, formsOf, type Page } from '../test-support/browser.ts';
import { signingKey, startTestProvider, type TestProvider } from '../test-support/openid-provider.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import {
  type Answer,
  unaryCall as call,
  type FliptAuthClient,
  fliptAuthClient,
  refused,
} from './client-harness.ts';

/**
 * Logging in over gRPC, as a CLI does with Flipt: `AuthorizeURL` with the caller's own state, the user signs in at
 * the provider, the caller catches the redirect's code and sends it to `Callback` with its state as
 * `flipt_client_state` metadata, and gets the client token in the answer. A client from our proto, against
 * `portcullis serve`, an in-process OpenID provider and the fake GitHub.
 */

const fixture = readFixture(new URL('../../conformance/fake-github/fixture.json', import.meta.url).pathname);
/** Where the providers send the browser back; a gRPC caller catches the redirect, so nothing listens there. */
const SITE = 'http://localhost:9';
const ADMIN = 'admin-secret';
const STATE = 'cli-state-1';
const OIDC = 'AuthenticationMethodOIDCService';
const GITHUB = 'AuthenticationMethodGithubService';

interface Issued {
  clientToken: string;
  authentication: { id: string; method: string; metadata: Record<string, string> };
}

interface World {
  readonly t: TestServer;
  readonly op: TestProvider;
  /** The provider's signing key, for logout tokens. */
  readonly key: JWK;
  client(service: string): FliptAuthClient;
}

interface WorldOptions {
  readonly oidc?: boolean;
  readonly google?: Record<string, unknown>;
  /** Enables GitHub (the fake) with these settings beyond the app's. */
  readonly github?: Record<string, unknown>;
}

async function startWorld(options: WorldOptions = {}): Promise<World> {
  const key = await signingKey('key-1');
  const op = await startTestProvider({
    keys: [key],
    clients: [
      {
        client_id: 'client-google',
        client_secret: 'secret-google',
        redirect_uris: [`${SITE}/auth/v1/method/oidc/google/callback`],
        post_logout_redirect_uris: [SITE],
      },
    ],
    accounts: { mark: { email: 'mark@flipt.io', email_verified: true, name: 'Mark Phelps' } },
  });
  onTestFinished(() => op.close());
  let github: Record<string, unknown> | undefined;
  if (options.github !== undefined) {
    const fake = await startFakeGitHub({
      layout: 'github.com',
      fixture: {
        ...fixture,
        apps: [
          {
            client_id: 'gh-app',
            client_secret: 'gh-secret',
            callback_url: `${SITE}/auth/v1/method/github/callback`,
          },
        ],
      },
    });
    onTestFinished(() => fake.close());
    github = {
      enabled: true,
      client_id: 'gh-app',
      client_secret: 'gh-secret',
      redirect_address: SITE,
      server_url: fake.serverUrl,
      api_url: fake.apiUrl,
      scopes: ['user:email'],
      ...options.github,
    };
  }
  const t = await serveForTest({
    authentication: {
      required: true,
      session: { domain: 'localhost' },
      methods: {
        token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } },
        ...(options.oidc !== false && {
          oidc: {
            enabled: true,
            providers: {
              google: {
                issuer_url: op.issuer,
                client_id: 'client-google',
                client_secret: 'secret-google',
                redirect_address: SITE,
                scopes: ['email', 'profile'],
                ...options.google,
              },
            },
          },
        }),
        ...(github !== undefined && { github }),
      },
    },
  });
  return { t, op, key, client: (service) => fliptAuthClient(t.server.grpcAddress, service) };
}

/** What an RPC answered, when it succeeded (fails the test otherwise). */
function value<T>(answer: Answer<T>): T {
  if (!answer.ok) throw new Error(`the call failed: ${answer.code} ${answer.details}`);
  return answer.value;
}

const redirectsToCallback = (page: Page) => page.headers.get('location')?.includes('/callback?') === true;

/**
 * A user signing in at the provider's pages (its login form, then its consent page when asked) from an
 * authorization URL; resolves to the query of the redirect to the callback, which is not followed.
 */
async function signIn(authorizeUrl: string, login: string): Promise<URLSearchParams> {
  const browser = new Browser();
  onTestFinished(() => browser.close());
  let page = await browser.navigate(authorizeUrl, {}, redirectsToCallback);
  for (let step = 0; !redirectsToCallback(page) && step < 3; step++) {
    const [form] = formsOf(page);
    if (form === undefined) throw new Error(`no form at ${page.url} (${page.status})`);
    const values: Record<string, string> =
      'password' in form.fields || form.fields.prompt === 'login' ? { login, password: 'any' } : {};
    page = await browser.submit(form, values, redirectsToCallback);
  }
  return new URL(page.headers.get('location') ?? '', page.url).searchParams;
}

/** Whether a client token works over gRPC and over HTTP; resolves to who it is. */
async function whoIs(w: World, clientToken: string): Promise<{ id: string; method: string }> {
  const overGrpc = value(
    await call<{ id: string; method: string }>(
      w.client('AuthenticationService'),
      'GetAuthenticationSelf',
      {},
      { authorization: `Bearer ${clientToken}` },
    ),
  );
  const overHttp = await w.t.fetch('/auth/v1/self', { headers: bearer(clientToken) });
  expect(overHttp.status).toBe(200);
  expect(((await overHttp.json()) as { id: string }).id).toBe(overGrpc.id);
  return overGrpc;
}

/**
 * The session a `Callback` answered: a client token (not the empty one a browser's callback answers) for an
 * authentication of `method`, which works over gRPC and over HTTP.
 */
async function session(w: World, answer: Answer<Issued>, method: string): Promise<Issued> {
  const issued = value(answer);
  expect(issued.clientToken).not.toBe('');
  expect(issued.authentication.method).toBe(method);
  expect(await whoIs(w, issued.clientToken)).toMatchObject({ id: issued.authentication.id, method });
  return issued;
}

/** A gRPC login at OIDC provider "google" as `mark`; resolves to the `Callback` answer. */
async function oidcLogin(w: World, state = STATE): Promise<Issued> {
  const oidc = w.client(OIDC);
  const { authorizeUrl } = value(
    await call<{ authorizeUrl: string }>(oidc, 'AuthorizeURL', { provider: 'google', state }),
  );
  const redirect = await signIn(authorizeUrl, 'mark');
  const code = redirect.get('code') ?? '';
  return value(
    await call<Issued>(oidc, 'Callback', { provider: 'google', code, state }, { flipt_client_state: state }),
  );
}

describe('gRPC: logging in with OIDC', () => {
  it('AuthorizeURL keeps the caller’s state; Callback with it as metadata answers the client token', async () => {
    const w = await startWorld();
    const oidc = w.client(OIDC);
    const authorize = value(
      await call<{ authorizeUrl: string }>(oidc, 'AuthorizeURL', { provider: 'google', state: STATE }),
    );
    const url = new URL(authorize.authorizeUrl);
    expect(url.origin).toBe(new URL(w.op.issuer).origin);
    expect(url.searchParams.get('state')).toBe(STATE);
    expect(url.searchParams.get('redirect_uri')).toBe(`${SITE}/auth/v1/method/oidc/google/callback`);

    const redirect = await signIn(authorize.authorizeUrl, 'mark');
    expect(redirect.get('state')).toBe(STATE);
    const code = redirect.get('code') ?? '';
    const callback = { provider: 'google', code, state: STATE };
    // The state is checked before the challenge is taken: these leave the login to be completed.
    expect(await call(oidc, 'Callback', callback)).toEqual(
      refused(grpc.status.UNAUTHENTICATED, 'callback: failed to get state'),
    );
    expect(await call(oidc, 'Callback', callback, { flipt_client_state: 'cli-state-2' })).toEqual(
      refused(grpc.status.UNAUTHENTICATED, 'callback: failed to get state'),
    );
    expect(await call(oidc, 'Callback', { ...callback, state: '' }, { flipt_client_state: '' })).toEqual(
      refused(grpc.status.UNAUTHENTICATED, 'callback: failed to get state'),
    );

    const issued = await session(
      w,
      await call<Issued>(oidc, 'Callback', callback, { flipt_client_state: STATE }),
      'METHOD_OIDC',
    );
    expect(issued.authentication.metadata).toMatchObject({
      'io.flipt.auth.oidc.provider': 'google',
      'io.flipt.auth.email': 'mark@flipt.io',
      'io.flipt.auth.oidc.sub': 'mark',
    });

    // The challenge is used once.
    expect(await call(oidc, 'Callback', callback, { flipt_client_state: STATE })).toEqual(
      refused(grpc.status.INVALID_ARGUMENT, 'callback: missing challenge'),
    );
  });

  it('an unknown provider is refused with Flipt’s messages', async () => {
    const w = await startWorld();
    const oidc = w.client(OIDC);
    expect(await call(oidc, 'AuthorizeURL', { provider: 'nope', state: STATE })).toEqual(
      refused(grpc.status.INVALID_ARGUMENT, 'authorize: unknown provider'),
    );
    expect(
      await call(
        oidc,
        'Callback',
        { provider: 'nope', code: 'c', state: STATE },
        { flipt_client_state: STATE },
      ),
    ).toEqual(refused(grpc.status.INVALID_ARGUMENT, 'callback: unknown provider'));
    expect(await call(oidc, 'Revoke', { provider: 'nope', logoutToken: 'x' })).toEqual(
      refused(grpc.status.INVALID_ARGUMENT, 'revoke: unknown provider'),
    );
    // A name is one path segment: an empty one, or one with slashes, names no provider either.
    for (const provider of ['', '../../token', 'google/../google']) {
      expect(await call(oidc, 'AuthorizeURL', { provider, state: STATE }), provider).toEqual(
        refused(grpc.status.INVALID_ARGUMENT, 'authorize: unknown provider'),
      );
    }
  });
});

describe('gRPC: logging in with GitHub', () => {
  it('AuthorizeURL keeps the caller’s state; Callback checks it against the metadata as Flipt does', async () => {
    const w = await startWorld({ oidc: false, github: { use_pkce: true } });
    const github = w.client(GITHUB);
    expect(await call(github, 'AuthorizeURL', { state: '' })).toEqual(
      refused(grpc.status.INVALID_ARGUMENT, 'missing state parameter'),
    );
    const authorize = value(await call<{ authorizeUrl: string }>(github, 'AuthorizeURL', { state: STATE }));
    const url = new URL(authorize.authorizeUrl);
    expect(url.searchParams.get('state')).toBe(STATE);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');

    const redirect = await signIn(authorize.authorizeUrl, 'octocat');
    expect(redirect.get('state')).toBe(STATE);
    const callback = { code: redirect.get('code') ?? '', state: STATE };
    const refusals: Array<[object, Record<string, string>, string]> = [
      [{ ...callback, state: '' }, { flipt_client_state: STATE }, 'missing state parameter'],
      [callback, {}, 'missing client state in metadata'],
      [callback, { flipt_client_state: 'cli-state-2' }, 'unexpected state parameter'],
    ];
    for (const [request, metadata, details] of refusals) {
      expect(await call(github, 'Callback', request, metadata), details).toEqual(
        refused(grpc.status.UNAUTHENTICATED, details),
      );
    }

    const issued = await session(
      w,
      await call<Issued>(github, 'Callback', callback, { flipt_client_state: STATE }),
      'METHOD_GITHUB',
    );
    expect(issued.authentication.metadata['io.flipt.auth.github.preferred_username']).toBe('octocat');
    expect(await call(github, 'Callback', callback, { flipt_client_state: STATE })).toEqual(
      refused(grpc.status.UNAUTHENTICATED, 'missing or expired oauth challenge'),
    );
  });

  it('without PKCE, an empty state is the caller’s to choose, as in Flipt', async () => {
    const w = await startWorld({ oidc: false, github: {} });
    const authorize = value(
      await call<{ authorizeUrl: string }>(w.client(GITHUB), 'AuthorizeURL', { state: '' }),
    );
    expect(new URL(authorize.authorizeUrl).searchParams.get('state')).toBe('');
  });
});

describe('gRPC: the login services run only with their method', () => {
  it('answers UNIMPLEMENTED for a method that is not enabled', async () => {
    const w = await startWorld({ oidc: false });
    for (const [service, rpc] of [
      [OIDC, 'AuthorizeURL'],
      [OIDC, 'Callback'],
      [OIDC, 'Revoke'],
      [GITHUB, 'AuthorizeURL'],
      [GITHUB, 'Callback'],
    ] as const) {
      const answer = await call(w.client(service), rpc, { provider: 'google', state: STATE });
      expect(answer.ok === false && answer.code, `${service}/${rpc}`).toBe(grpc.status.UNIMPLEMENTED);
    }
  });
});

describe('the gRPC mark on a request from the network', () => {
  it('does not make an HTTP login a gRPC one: the state is wrapped and the state cookie set', async () => {
    const w = await startWorld({ github: {} });
    for (const path of ['/auth/v1/method/oidc/google/authorize', '/auth/v1/method/github/authorize']) {
      const response = await w.t.fetch(`${path}?state=${STATE}`, { headers: grpcCallHeaders() });
      expect(response.status, path).toBe(200);
      const { authorizeUrl } = (await response.json()) as { authorizeUrl: string };
      const state = new URL(authorizeUrl).searchParams.get('state') ?? '';
      expect(state, path).not.toBe(STATE);
      expect(JSON.parse(Buffer.from(state, 'base64url').toString())).toMatchObject({ original_state: STATE });
      expect(response.headers.getSetCookie().some((c) => c.startsWith(`flipt_client_state=${state};`))).toBe(
        true,
      );
    }
  });
});

describe('gRPC: OIDC Revoke (back-channel logout)', () => {
  it('ends the sessions a valid logout token names, and refuses the rest as the HTTP route does', async () => {
    const w = await startWorld();
    const oidc = w.client(OIDC);
    const issued = await oidcLogin(w);
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: w.op.issuer,
      aud: 'client-google',
      iat: now,
      exp: now + 120,
      sub: 'mark',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    };
    const sign = async (jti: string, extra: Record<string, unknown> = {}) =>
      new SignJWT({ ...claims, jti, ...extra })
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'logout+jwt' })
        .sign(await importJWK(w.key, 'RS256'));
    const overHttp = async (logoutToken: string) => {
      const response = await w.t.fetch('/auth/v1/method/oidc/google/revoke', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ logout_token: logoutToken }),
      });
      const { code, message } = (await response.json()) as { code: number; message: string };
      return refused(code, message);
    };

    for (const token of ['', 'not-a-jwt', await sign('wrong-issuer', { iss: 'https://evil.example' })]) {
      const http = await overHttp(token);
      expect(http).toEqual(refused(grpc.status.INVALID_ARGUMENT, 'revoke: invalid logout token'));
      expect(await call(oidc, 'Revoke', { provider: 'google', logoutToken: token })).toEqual(http);
    }
    const anonymous = await sign('anonymous', { sub: undefined });
    expect(await call(oidc, 'Revoke', { provider: 'google', logoutToken: anonymous })).toEqual(
      refused(grpc.status.INVALID_ARGUMENT, 'revoke: operation requires sid or sub'),
    );
    expect(await whoIs(w, issued.clientToken)).toMatchObject({ id: issued.authentication.id });

    // The front-channel fields are not a front-channel logout: without a logout token, nothing ends.
    expect(await call(oidc, 'Revoke', { provider: 'google', iss: w.op.issuer, sid: 'any' })).toEqual(
      refused(grpc.status.INVALID_ARGUMENT, 'revoke: invalid logout token'),
    );

    const token = await sign('logout-1');
    expect(await call(oidc, 'Revoke', { provider: 'google', logoutToken: token })).toEqual({
      ok: true,
      value: {},
    });
    const self = await call(
      w.client('AuthenticationService'),
      'GetAuthenticationSelf',
      {},
      {
        authorization: `Bearer ${issued.clientToken}`,
      },
    );
    expect(self).toEqual(refused(grpc.status.UNAUTHENTICATED, 'request was not authenticated'));
    // Used once, over either transport.
    expect(await overHttp(token)).toEqual(
      refused(grpc.status.INVALID_ARGUMENT, 'revoke: invalid logout token'),
    );
  });
});

describe('gRPC: RevokeAuthenticationSelf', () => {
  it('answers as DELETE /auth/v1/self/revoke: nextUri for an OIDC session with end_session, then gone', async () => {
    const w = await startWorld({ google: { use_end_session_endpoint: true } });
    const revoke = (clientToken: string) =>
      call<{ nextUri?: string }>(
        w.client('AuthenticationService'),
        'RevokeAuthenticationSelf',
        {},
        {
          authorization: `Bearer ${clientToken}`,
        },
      );

    const overGrpc = await oidcLogin(w, 'state-a');
    const overHttp = await oidcLogin(w, 'state-b');
    const httpAnswer = await w.t.fetch('/auth/v1/self/revoke', {
      method: 'DELETE',
      headers: bearer(overHttp.clientToken),
    });
    expect(httpAnswer.status).toBe(200);
    const { nextUri: httpNext } = (await httpAnswer.json()) as { nextUri: string };
    const { nextUri: grpcNext } = value(await revoke(overGrpc.clientToken));
    const shape = (uri: string | undefined) => {
      const url = new URL(uri ?? '');
      return { at: `${url.origin}${url.pathname}`, parameters: [...url.searchParams.keys()].sort() };
    };
    expect(shape(grpcNext)).toEqual(shape(httpNext));
    expect(shape(grpcNext)).toEqual({
      at: `${w.op.issuer}/session/end`,
      parameters: ['id_token_hint', 'post_logout_redirect_uri'],
    });
    expect(new URL(grpcNext ?? '').searchParams.get('post_logout_redirect_uri')).toBe(SITE);
    expect(await revoke(overGrpc.clientToken)).toEqual(
      refused(grpc.status.UNAUTHENTICATED, 'request was not authenticated'),
    );

    // A static token: nothing to delete, no nextUri, and it keeps working (Flipt's static store).
    const staticAnswer = value(await revoke(ADMIN));
    expect(staticAnswer.nextUri).toBeUndefined();
    const staticHttp = await w.t.fetch('/auth/v1/self/revoke', { method: 'DELETE', headers: bearer(ADMIN) });
    expect(await staticHttp.json()).toEqual({});
    expect(await whoIs(w, ADMIN)).toMatchObject({ id: 'admin' });
    expect(await call(w.client('AuthenticationService'), 'RevokeAuthenticationSelf', {})).toEqual(
      refused(grpc.status.UNAUTHENTICATED, 'request was not authenticated'),
    );
  });
});
