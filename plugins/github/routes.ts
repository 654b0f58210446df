import { posix } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MethodContext } from '../../core/plugins/kit/index.ts';
import { type ErrorCode, ErrorCodes, errorMessage, PluginError } from '../../core/plugins/kit/index.ts';
import { decideAccess, type Membership, sessionMetadata } from './access.ts';
import { apiBase, type GithubConfig } from './config.ts';
import { boundedJson, GITHUB_TIMEOUT_MS, GithubClient, GithubClientError } from './github-client.ts';

/** Flipt keeps a login's PKCE verifier for two minutes. */
export const CHALLENGE_TTL_MS = 2 * 60 * 1000;
const CALLBACK_PATH = '/auth/v1/method/github/callback';

/** A refusal with Flipt's message and a stable reason id (`login:refused`, metrics). */
function fail(code: ErrorCode, message: string, options?: { readonly reason: string }): PluginError {
  return new PluginError(code, message, options);
}

/** `url.JoinPath(redirect_address, "auth/v1/method/github/callback")`, as Flipt builds it. */
export function callbackUrl(redirectAddress: string): string {
  const url = new URL(redirectAddress);
  url.pathname = posix.join(url.pathname, CALLBACK_PATH);
  return url.href;
}

/**
 * What a failed GitHub call means for the user: GitHub refused the token or the code (401), refused access (403),
 * or is down, rationing or answering nonsense (503, try again later). Anything else is a fault of ours (500).
 */
function codeFor(error: unknown): ErrorCode {
  if (!(error instanceof GithubClientError)) return ErrorCodes.INTERNAL;
  if (error.failure === 'unauthorized') return ErrorCodes.UNAUTHENTICATED;
  if (error.failure === 'forbidden') return ErrorCodes.PERMISSION_DENIED;
  return ErrorCodes.UNAVAILABLE;
}

/** The `authorize` and `callback` routes under `/auth/v1/method/github/`, with Flipt's messages. */
export function githubRoutes(ctx: MethodContext, config: GithubConfig): (app: FastifyInstance) => void {
  const { log, session, store, fetch } = ctx;
  const server = config.server_url.replace(/\/+$/, '');
  const redirectUri = callbackUrl(config.redirect_address ?? '');
  const scope = config.scopes.join(' ');
  const readsOrgs = config.scopes.includes('read:org');

  async function authorize(request: FastifyRequest, reply: FastifyReply) {
    const state = session.startLogin(request, reply, CALLBACK_PATH);
    // Only a gRPC caller's own state can be empty (a browser's is wrapped in a new one).
    if (config.use_pkce && state === '') throw fail(ErrorCodes.INVALID_ARGUMENT, 'missing state parameter');
    const url = new URL(`${server}/login/oauth/authorize`);
    url.searchParams.set('client_id', config.client_id ?? '');
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('response_type', 'code');
    if (scope !== '') url.searchParams.set('scope', scope);
    url.searchParams.set('state', state);
    if (config.use_pkce) {
      // openid-client (150 KB with oauth4webapi) is imported by the first login with PKCE, not at start-up.
      const { calculatePKCECodeChallenge, randomPKCECodeVerifier } = await import('openid-client');
      const verifier = randomPKCECodeVerifier();
      url.searchParams.set('code_challenge', await calculatePKCECodeChallenge(verifier));
      url.searchParams.set('code_challenge_method', 'S256');
      await store.putChallenge(state, verifier, CHALLENGE_TTL_MS);
    }
    // Go's url.Values.Encode sorts by key.
    url.searchParams.sort();
    return { authorizeUrl: url.href };
  }

  /** The access token for a code; GitHub reports a refused code with status 200 and an `error` field. */
  async function exchange(code: string, verifier: string | undefined): Promise<string> {
    let response: Response;
    try {
      response = await fetch(`${server}/login/oauth/access_token`, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: config.client_id ?? '',
          client_secret: config.client_secret ?? '',
          code,
          redirect_uri: redirectUri,
          ...(verifier !== undefined && { code_verifier: verifier }),
        }).toString(),
        // A redirect would resend the client secret to wherever it points.
        redirect: 'error',
        signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS),
      });
    } catch (error) {
      throw new GithubClientError('unavailable', `access_token request failed: ${(error as Error).message}`);
    }
    if (response.status === 429 || response.status >= 500) {
      throw new GithubClientError('unavailable', `access_token answered ${response.status}`);
    }
    const body = await boundedJson(response, 'access_token response').catch(() => undefined);
    const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (response.status !== 200 || typeof fields.access_token !== 'string' || fields.access_token === '') {
      throw new GithubClientError(
        'unauthorized',
        `GitHub refused the code: ${String(fields.error ?? response.status)}`,
      );
    }
    return fields.access_token;
  }

  async function callback(request: FastifyRequest, reply: FastifyReply) {
    const { state, code } = request.query as { state?: unknown; code?: unknown };
    // Asked first, whatever the state: that marks the request as a login callback, refused or not.
    const matches = session.stateMatches(request, typeof state === 'string' ? state : undefined);
    if (typeof state !== 'string' || state === '')
      throw fail(ErrorCodes.UNAUTHENTICATED, 'missing state parameter', { reason: 'state_missing' });
    if (session.readStateCookie(request) === undefined) {
      throw fail(ErrorCodes.UNAUTHENTICATED, 'missing client state in metadata', {
        reason: 'state_cookie_missing',
      });
    }
    if (!matches)
      throw fail(ErrorCodes.UNAUTHENTICATED, 'unexpected state parameter', { reason: 'state_mismatch' });
    let verifier: string | undefined;
    if (config.use_pkce) {
      verifier = await store.popChallenge(state);
      if (verifier === undefined)
        throw fail(ErrorCodes.UNAUTHENTICATED, 'missing or expired oauth challenge', {
          reason: 'challenge_missing',
        });
    }

    let token: string;
    try {
      token = await exchange(typeof code === 'string' ? code : '', verifier);
    } catch (error) {
      log.warn({ reason: errorMessage(error) }, 'callback: code exchange failed');
      throw fail(codeFor(error), 'callback: code exchange failed', { reason: 'code_exchange_failed' });
    }

    const api = new GithubClient(fetch, apiBase(config), token);
    let user: Awaited<ReturnType<GithubClient['user']>>;
    let membership: Membership | undefined;
    try {
      user = await api.user();
      // Flipt asks for organisations and teams whenever it may, even without rules to apply.
      if (readsOrgs) {
        const [organizations, teams] = await Promise.all([api.organizations(), api.teams()]);
        membership = { organizations, teams };
      }
    } catch (error) {
      log.warn({ reason: errorMessage(error) }, 'github: reading the user failed');
      throw fail(
        codeFor(error),
        error instanceof GithubClientError ? error.message : 'github: reading the user failed',
        { reason: 'user_lookup_failed' },
      );
    }

    const decision = decideAccess(config, user.login, membership);
    if (!decision.allowed) {
      log.info({ login: user.login, reason: `${decision.message} (${decision.detail})` }, 'login refused');
      throw fail(ErrorCodes.UNAUTHENTICATED, decision.message, { reason: decision.reason });
    }
    const body = await session.completeLogin(request, reply, {
      method: 'METHOD_GITHUB',
      metadata: sessionMetadata(config, user, membership),
    });
    log.info({ login: user.login, id: body.authentication.id }, 'login');
    return body;
  }

  return (app) => {
    const open = { config: { authenticate: false } } as const;
    app.get('/authorize', open, authorize);
    app.get('/callback', open, callback);
  };
}
