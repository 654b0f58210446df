import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MethodContext } from '../../core/plugins/kit/index.ts';
import {
  type ErrorCode,
  ErrorCodes,
  errorCode,
  errorMessage,
  PluginError,
} from '../../core/plugins/kit/index.ts';
import { OIDC_METADATA, sessionMetadata } from './claims.ts';
import type { EmailRule } from './email.ts';
import { isUnreachable, type LogoutToken, type OidcProvider } from './provider.ts';

/** Flipt keeps a login's PKCE verifier and nonce for two minutes, whatever `state_lifetime` says. */
export const CHALLENGE_TTL_MS = 2 * 60 * 1000;
/** Flipt reads at most 4 KiB of a back-channel logout request. */
const LOGOUT_BODY_LIMIT = 4 * 1024;
/**
 * Front-channel logouts accepted per provider and second. They need no credential, and ending sessions by `sid`
 * may scan every OIDC session in Redis, so a flood of them is cut short.
 */
const FRONT_CHANNEL_LOGOUTS_PER_SECOND = 20;
const REVOKE_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

type Params = { provider: string };

/** A refusal with Flipt's message, and for a login callback a stable reason id (`login:refused`, metrics). */
function fail(code: ErrorCode, message: string, options?: { readonly reason: string }): PluginError {
  return new PluginError(code, message, options);
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

/** Allows `limit` events per second and key. */
function perSecondLimit(limit: number): (key: string) => boolean {
  const windows = new Map<string, { second: number; count: number }>();
  return (key) => {
    const second = Math.floor(Date.now() / 1000);
    const window = windows.get(key);
    if (window === undefined || window.second !== second) {
      windows.set(key, { second, count: 1 });
      return true;
    }
    window.count++;
    return window.count <= limit;
  };
}

/**
 * The `authorize`, `callback` and `revoke` routes of every provider, under `/auth/v1/method/oidc/<provider>/`, with
 * Flipt's messages. Status codes are Flipt's, except that a refused login is a 401 (Flipt answers 500) and a
 * provider or store that cannot be reached a 503.
 */
export function oidcRoutes(
  ctx: MethodContext,
  providers: ReadonlyMap<string, OidcProvider>,
  emailRule: EmailRule,
): (app: FastifyInstance) => void {
  const { log, session, store } = ctx;
  const frontChannelAllowed = perSecondLimit(FRONT_CHANNEL_LOGOUTS_PER_SECOND);

  /**
   * Runs one step of a login; its failure is logged with the reason and answered with `message`: 503 when the
   * provider (or the store) cannot be reached, `otherwise` else.
   */
  async function step<T>(
    provider: OidcProvider,
    message: string,
    otherwise: ErrorCode,
    run: () => Promise<T>,
    refusal?: { readonly reason: string },
  ): Promise<T> {
    try {
      return await run();
    } catch (error) {
      log.warn({ provider: provider.name, reason: errorMessage(error) }, message);
      const unreachable = isUnreachable(error);
      throw fail(
        unreachable ? ErrorCodes.UNAVAILABLE : otherwise,
        message,
        unreachable && refusal !== undefined ? { reason: 'provider_unreachable' } : refusal,
      );
    }
  }

  function providerFor(request: FastifyRequest, action: string): OidcProvider {
    const provider = providers.get((request.params as Params).provider);
    if (provider === undefined) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, `${action}: unknown provider`, { reason: 'unknown_provider' });
    }
    return provider;
  }

  /** The provider named in the path when it is a configured one (a label must not be whatever a client sends). */
  function configuredProvider(request: FastifyRequest): { provider?: string } {
    const name = (request.params as Params).provider;
    return providers.has(name) ? { provider: name } : {};
  }

  /**
   * The callback's query, for openid-client to check as the provider sent it. A gRPC `Callback` has no `iss` field,
   * so it is given the provider's own issuer: RFC 9207 (§2.4) has a client compare a response's `iss` with the issuer
   * of the server the request was sent to, against mix-ups between providers, and openid-client insists on one
   * from a provider that advertises `authorization_response_iss_parameter_supported` (§3). Flipt (go-oidc) never
   * checks it; and a gRPC call names its provider, so its code can only go to that provider's token endpoint.
   */
  async function callbackQuery(request: FastifyRequest, provider: OidcProvider): Promise<string> {
    const query = rawQuery(request.url);
    if (!session.isGrpcCall(request)) return query;
    const parameters = new URLSearchParams(query);
    parameters.set('iss', await provider.issuer());
    return `?${parameters}`;
  }

  async function authorize(request: FastifyRequest, reply: FastifyReply) {
    const provider = providerFor(request, 'authorize');
    const state = session.startLogin(request, reply, `/auth/v1/method/oidc/${provider.name}/callback`, {
      provider: provider.name,
    });
    // Imported at the first login rather than with the method (see provider.ts).
    const { randomNonce, randomPKCECodeVerifier } = await import('openid-client');
    const codeVerifier = randomPKCECodeVerifier();
    const nonce = randomNonce();
    const authorizeUrl = await step(provider, 'authorize: failed get provider', ErrorCodes.INTERNAL, () =>
      provider.authorizationUrl({ state, nonce, ...(provider.config.use_pkce && { codeVerifier }) }),
    );
    await step(provider, 'authorize: failed to persist challenge', ErrorCodes.INTERNAL, () =>
      store.putChallenge(state, `${codeVerifier}.${nonce}`, CHALLENGE_TTL_MS),
    );
    return { authorizeUrl };
  }

  async function callback(request: FastifyRequest, reply: FastifyReply) {
    const state = queryValue(request, 'state');
    // Asked even without a state: that marks the request as a login callback, refused or not.
    const matches = session.stateMatches(request, state, configuredProvider(request));
    if (state === undefined || !matches) {
      throw fail(ErrorCodes.UNAUTHENTICATED, 'callback: failed to get state', { reason: 'state_mismatch' });
    }
    const provider = providerFor(request, 'callback');
    // Before the challenge is taken, so that a provider outage does not use it up.
    await step(provider, 'callback: failed get provider', ErrorCodes.INTERNAL, () => provider.discovered(), {
      reason: 'provider_discovery_failed',
    });
    const challenge = await store.popChallenge(state);
    if (challenge === undefined) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, 'callback: missing challenge', { reason: 'challenge_missing' });
    }
    const [codeVerifier, nonce, ...rest] = challenge.split('.');
    if (!codeVerifier || !nonce || rest.length > 0) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, 'callback: invalid challenge', { reason: 'challenge_invalid' });
    }

    const exchanged = await step(
      provider,
      'callback: code exchange failed',
      ErrorCodes.UNAUTHENTICATED,
      async () =>
        provider.exchange(await callbackQuery(request, provider), {
          state,
          nonce,
          ...(provider.config.use_pkce && { codeVerifier }),
        }),
      { reason: 'code_exchange_failed' },
    );
    const { idTokenClaims } = exchanged;
    const merged = provider.config.fetch_extra_user_info
      ? {
          ...idTokenClaims,
          ...(await step(
            provider,
            'callback: claim extraction failed',
            ErrorCodes.UNAUTHENTICATED,
            () => provider.userinfo(exchanged.accessToken, String(idTokenClaims.sub)),
            { reason: 'userinfo_failed' },
          )),
        }
      : idTokenClaims;
    const metadata = sessionMetadata(
      provider.name,
      { idToken: idTokenClaims, merged },
      provider.config.claims_mapping,
    );
    const email = metadata[OIDC_METADATA.email];
    if (!emailRule.allows(email)) {
      log.info({ provider: provider.name, email }, 'login refused: email_matches does not allow this email');
      throw fail(ErrorCodes.PERMISSION_DENIED, 'callback: email is not allowed', {
        reason: 'email_not_allowed',
      });
    }

    const body = await session.completeLogin(request, reply, {
      method: 'METHOD_OIDC',
      metadata,
      extras: {
        provider: provider.name,
        ...(typeof idTokenClaims.sub === 'string' && { subject: idTokenClaims.sub }),
        ...(typeof idTokenClaims.sid === 'string' && { sessionId: idTokenClaims.sid }),
        ...(provider.config.use_end_session_endpoint && { idToken: exchanged.idToken }),
      },
    });
    log.info({ provider: provider.name, id: body.authentication.id }, 'login');
    return body;
  }

  /** Refuses a logout token seen before; remembers this one for as long as it would be accepted. */
  async function useOnce(provider: OidcProvider, token: LogoutToken): Promise<void> {
    const key = `oidc-logout:${provider.name}:${token.jti}`;
    const ttlMs = Math.max(1000, token.acceptedUntilMs - Date.now());
    if ((await store.popChallenge(key)) !== undefined) {
      await store.putChallenge(key, 'used', ttlMs);
      throw new Error(`the logout token ${token.jti} was used before`);
    }
    await store.putChallenge(key, 'used', ttlMs);
  }

  /** Back-channel logout: the provider posts a signed logout token; every matching session ends. */
  async function backChannelLogout(request: FastifyRequest, provider: OidcProvider) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const raw = body.logout_token ?? body.logoutToken;
    let token: LogoutToken;
    try {
      if (typeof raw !== 'string' || raw === '') throw new Error('no logout_token');
      token = await provider.verifyLogoutToken(raw);
      await useOnce(provider, token);
    } catch (error) {
      log.warn({ provider: provider.name, reason: errorMessage(error) }, 'revoke: invalid logout token');
      const unavailable = isUnreachable(error) || errorCode(error) === ErrorCodes.UNAVAILABLE;
      throw fail(
        unavailable ? ErrorCodes.UNAVAILABLE : ErrorCodes.INVALID_ARGUMENT,
        'revoke: invalid logout token',
      );
    }
    if (token.sid === undefined && token.sub === undefined) {
      throw fail(ErrorCodes.INVALID_ARGUMENT, 'revoke: operation requires sid or sub');
    }
    const ended = await store.deleteAuthentications({
      method: 'METHOD_OIDC',
      provider: provider.name,
      ...(token.sid !== undefined && { sessionId: token.sid }),
      ...(token.sub !== undefined && { subject: token.sub }),
    });
    log.info({ provider: provider.name, sessions: ended }, 'back-channel logout');
    session.recordLogout(request, { kind: 'back_channel', provider: provider.name, sessions: ended });
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
    if (iss !== undefined && sid !== undefined && sid !== '') {
      if (!frontChannelAllowed(provider.name)) {
        throw fail(ErrorCodes.RESOURCE_EXHAUSTED, 'revoke: too many logout requests');
      }
      const ended = await store.deleteAuthentications({
        method: 'METHOD_OIDC',
        provider: provider.name,
        sessionId: sid,
      });
      log.info({ provider: provider.name, sessions: ended }, 'front-channel logout');
      session.recordLogout(request, { kind: 'front_channel', provider: provider.name, sessions: ended });
    }
    // Flipt's middleware clears the cookies on every successful front-channel request.
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
