import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomNonce, randomPKCECodeVerifier } from 'openid-client';
import { authenticationJson } from '../../core/auth/json.ts';
import { type ErrorCode, ErrorCodes, errorMessage, PortcullisError } from '../../core/errors.ts';
import type { MethodContext } from '../../core/plugins/contracts.ts';
import { OIDC_METADATA, sessionMetadata } from './claims.ts';
import type { EmailRule } from './email.ts';
import { isUnreachable, type OidcProvider } from './provider.ts';

/** Flipt keeps a login's PKCE verifier and nonce for two minutes, whatever `state_lifetime` says. */
export const CHALLENGE_TTL_MS = 2 * 60 * 1000;
/** Flipt reads at most 4 KiB of a back-channel logout request. */
const LOGOUT_BODY_LIMIT = 4 * 1024;
const REVOKE_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

type Params = { provider: string };

function fail(code: ErrorCode, message: string): PortcullisError {
  return new PortcullisError(code, message);
}

/** The value of a query parameter given once; a repeated one counts as absent. */
function queryValue(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Everything from `?` on, exactly as the browser sent it. */
function rawQuery(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at);
}

/**
 * The `authorize`, `callback` and `revoke` routes of every provider, under `/auth/v1/method/oidc/<provider>/`, with
 * Flipt's status codes and messages, except that a refused login is a 401 (Flipt answers 500) and a provider that
 * cannot be reached a 503.
 */
export function oidcRoutes(
  ctx: MethodContext,
  providers: ReadonlyMap<string, OidcProvider>,
  emailRule: EmailRule,
): (app: FastifyInstance) => void {
  const { log, session, store } = ctx;

  /** Runs a step that talks to the provider; its failure becomes `message`, 503 when the provider is unreachable. */
  async function atProvider<T>(
    provider: OidcProvider,
    message: string,
    refused: ErrorCode,
    step: () => Promise<T>,
  ): Promise<T> {
    try {
      return await step();
    } catch (error) {
      const unreachable = isUnreachable(error);
      log.warn({ provider: provider.name, reason: errorMessage(error) }, message);
      throw fail(unreachable ? ErrorCodes.UNAVAILABLE : refused, message);
    }
  }

  function providerFor(request: FastifyRequest, step: string): OidcProvider {
    const provider = providers.get((request.params as Params).provider);
    if (provider === undefined) throw fail(ErrorCodes.INVALID_ARGUMENT, `${step}: unknown provider`);
    return provider;
  }

  async function authorize(request: FastifyRequest, reply: FastifyReply) {
    const provider = providerFor(request, 'authorize');
    const state = session.startLogin(request, reply, `/auth/v1/method/oidc/${provider.name}/callback`);
    const codeVerifier = randomPKCECodeVerifier();
    const nonce = randomNonce();
    const authorizeUrl = await atProvider(
      provider,
      'authorize: failed get provider',
      ErrorCodes.INTERNAL,
      () =>
        provider.authorizationUrl({
          state,
          nonce,
          ...(provider.config.use_pkce && { codeVerifier }),
        }),
    );
    await store.putChallenge(state, `${codeVerifier}.${nonce}`, CHALLENGE_TTL_MS);
    return { authorizeUrl };
  }

  async function callback(request: FastifyRequest, reply: FastifyReply) {
    const state = queryValue(request, 'state');
    if (!session.stateMatches(request, state)) {
      throw fail(ErrorCodes.UNAUTHENTICATED, 'callback: failed to get state');
    }
    const provider = providerFor(request, 'callback');
    const challenge = await store.popChallenge(state as string);
    if (challenge === undefined) throw fail(ErrorCodes.INVALID_ARGUMENT, 'callback: missing challenge');
    const [codeVerifier, nonce, ...rest] = challenge.split('.');
    if (!codeVerifier || !nonce || rest.length > 0) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, 'callback: invalid challenge');
    }

    const { claims, idToken } = await atProvider(
      provider,
      'callback: code exchange failed',
      ErrorCodes.UNAUTHENTICATED,
      () =>
        provider.login(rawQuery(request.url), {
          state: state as string,
          nonce,
          ...(provider.config.use_pkce && { codeVerifier }),
        }),
    );
    const metadata = sessionMetadata(provider.name, claims, provider.config.claims_mapping);
    const email = metadata[OIDC_METADATA.email];
    if (!emailRule.allows(email)) {
      log.info({ provider: provider.name, email }, 'login refused: email_matches does not allow this email');
      throw fail(ErrorCodes.PERMISSION_DENIED, 'callback: email is not allowed');
    }

    const expiresAt = new Date(ctx.now().getTime() + session.tokenLifetimeMs);
    const { clientToken, authentication } = await store.createAuthentication({
      method: 'METHOD_OIDC',
      expiresAt,
      metadata,
      extras: {
        provider: provider.name,
        ...(typeof claims.sub === 'string' && { subject: claims.sub }),
        ...(typeof claims.sid === 'string' && { sessionId: claims.sid }),
        ...(provider.config.use_end_session_endpoint && { idToken }),
      },
    });
    log.info({ provider: provider.name, id: authentication.id }, 'login');
    session.setTokenCookie(reply, clientToken, expiresAt);
    // Only a same-origin path: the forwarded prefix is a plain path or nothing.
    reply.code(302).header('location', `${session.forwardedPrefix(request)}/`);
    return { clientToken: '', authentication: authenticationJson(authentication) };
  }

  /** Back-channel logout: the provider posts a signed logout token; every matching session ends. */
  async function backChannelLogout(request: FastifyRequest, provider: OidcProvider) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const token = body.logout_token ?? body.logoutToken;
    let subject: Awaited<ReturnType<OidcProvider['verifyLogoutToken']>>;
    try {
      if (typeof token !== 'string' || token === '') throw new Error('no logout_token');
      subject = await provider.verifyLogoutToken(token);
    } catch (error) {
      log.warn({ provider: provider.name, reason: errorMessage(error) }, 'revoke: invalid logout token');
      throw fail(
        isUnreachable(error) ? ErrorCodes.UNAVAILABLE : ErrorCodes.INVALID_ARGUMENT,
        'revoke: invalid logout token',
      );
    }
    if (subject.sid === undefined && subject.sub === undefined) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, 'revoke: operation requires sid or sub');
    }
    const ended = await store.deleteAuthentications({
      method: 'METHOD_OIDC',
      provider: provider.name,
      ...(subject.sid !== undefined && { sessionId: subject.sid }),
      ...(subject.sub !== undefined && { subject: subject.sub }),
    });
    log.info({ provider: provider.name, sessions: ended }, 'back-channel logout');
  }

  /** Front-channel logout: the provider loads this URL in a frame with its `iss` and the session's `sid`. */
  async function frontChannelLogout(request: FastifyRequest, reply: FastifyReply, provider: OidcProvider) {
    if (!provider.config.allow_front_channel_logout) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, 'revoke: operation disabled');
    }
    const iss = queryValue(request, 'iss');
    const sid = queryValue(request, 'sid');
    if (iss !== undefined && iss !== provider.config.issuer_url) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, 'revoke: issuer mismatch');
    }
    if (iss === undefined || sid === undefined || sid === '') return;
    const ended = await store.deleteAuthentications({
      method: 'METHOD_OIDC',
      provider: provider.name,
      sessionId: sid,
    });
    log.info({ provider: provider.name, sessions: ended }, 'front-channel logout');
    session.clearCookies(reply, { sameSite: 'None' });
  }

  async function revoke(request: FastifyRequest, reply: FastifyReply) {
    const provider = providerFor(request, 'revoke');
    reply.header('cache-control', 'no-store');
    if (request.method === 'POST') await backChannelLogout(request, provider);
    else if (request.method === 'GET') await frontChannelLogout(request, reply, provider);
    else throw fail(ErrorCodes.INVALID_ARGUMENT, 'revoke: unsupported http method');
    return {};
  }

  return (app) => {
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: LOGOUT_BODY_LIMIT },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    const open = { authenticate: false } as const;
    app.get('/:provider/authorize', { config: open }, authorize);
    app.get('/:provider/callback', { config: open }, callback);
    app.route({
      method: [...REVOKE_METHODS],
      url: '/:provider/revoke',
      bodyLimit: LOGOUT_BODY_LIMIT,
      // The provider calls this server to server; its signed logout token is the protection.
      config: { ...open, csrf: false },
      handler: revoke,
    });
  };
}
