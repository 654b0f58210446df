import type * as client from 'openid-client';
import type { FetchLike, Logger } from '../../core/plugins/kit/index.ts';
import {
  acceptedUntilMs,
  ErrorCodes,
  type KeySet,
  PluginError,
  readTextLimited,
  remoteKeySet,
  TIME_CLAIM_RULES,
  verifyJwt,
} from '../../core/plugins/kit/index.ts';
import type { OidcProviderConfig } from './config.ts';

/**
 * openid-client (with oauth4webapi, 150 KB) is imported by the first discovery, at the first login, rather than
 * with this module, which every start-up with oidc enabled loads.
 */
const openidClient = () => import('openid-client');

/** The event a back-channel logout token must carry (OpenID Connect Back-Channel Logout 1.0, §2.4). */
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/**
 * openid-client checks `exp` and `nbf` itself, with one tolerance for both: the widest of go-oidc's, so that it
 * refuses nothing go-oidc accepts. `verifyJwt` then applies go-oidc's rule for each claim (`TIME_CLAIM_RULES`).
 */
const OPENID_CLIENT_TOLERANCE_S = Math.max(
  TIME_CLAIM_RULES.idToken.notBeforeLeewayS,
  TIME_CLAIM_RULES.idToken.expiryLeewayS,
  TIME_CLAIM_RULES.userinfo.notBeforeLeewayS,
);
/** A userinfo answer is a few KiB; a larger one is refused. */
const MAX_USERINFO_BYTES = 256 * 1024;
/** After a failed discovery, how long the provider waits before trying again (serving the last one, if any). */
const RETRY_AFTER_FAILURE_MS = 30_000;
/** The same, before any discovery has ever succeeded: short, so that a provider that comes up is used soon. */
const RETRY_AFTER_FIRST_FAILURE_MS = 5_000;

/** What a provider's discovery gave: a client configuration, and its signing keys. */
interface Discovered {
  readonly configuration: client.Configuration;
  readonly keys: KeySet;
  readonly discoveredAt: number;
}

/** What the token endpoint gave for a code, its ID token verified. */
export interface CodeExchange {
  /** The ID token's claims, verified. */
  readonly idTokenClaims: Record<string, unknown>;
  readonly idToken: string;
  readonly accessToken: string;
}

/** The parts of a valid back-channel logout token that say which sessions end. */
export interface LogoutToken {
  readonly sid?: string;
  readonly sub?: string;
  /** Its unique id, and until when (ms since the epoch) it would be accepted, so that it is used once. */
  readonly jti: string;
  readonly acceptedUntilMs: number;
}

const NETWORK_ERROR_CODES =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR_|ERR_JWKS_COOLDOWN$|ERR_UNAVAILABLE$)/;

/**
 * A failure reaching the provider (connection refused or reset, no such host, a timeout, a 5xx), as opposed to the
 * provider refusing, or a certificate portcullis does not trust (a configuration problem, not an outage).
 */
export function isUnreachable(error: unknown): boolean {
  let cause = error;
  for (let depth = 0; depth < 8 && typeof cause === 'object' && cause !== null; depth++) {
    const { name, code, status } = cause as Record<string, unknown>;
    if (name === 'TimeoutError' || name === 'AbortError') return true;
    if (typeof code === 'string' && NETWORK_ERROR_CODES.test(code)) return true;
    if (typeof status === 'number' && status >= 500) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/** Google, Okta and most providers sign with RS256; Flipt assumes it when `algorithms` is empty. */
function algorithmsOf(config: OidcProviderConfig): string[] {
  return config.algorithms.length > 0 ? config.algorithms : ['RS256'];
}

/**
 * One configured provider (`providers.<name>`): discovery, kept for `cache_ttl`; the authorization URL; the code
 * exchange with every check of the ID token; userinfo; logout tokens; the end-session URL.
 *
 * openid-client runs the protocol and checks the ID token's claims (issuer, audience, nonce); the provider checks
 * PKCE; `verifyJwt` checks the ID token's signature against the provider's JWKS with the configured algorithms,
 * because openid-client trusts a token received straight from the token endpoint without looking at its signature,
 * and Flipt does not, and its time claims by go-oidc's rules (`TIME_CLAIM_RULES.idToken`).
 */
export class OidcProvider {
  readonly name: string;
  readonly config: OidcProviderConfig;
  /** `<redirect_address>/auth/v1/method/oidc/<name>/callback`, as registered at the provider. */
  readonly redirectUri: string;
  readonly #fetch: FetchLike;
  readonly #cacheTtlMs: number;
  readonly #log: Logger;
  #discovered: Discovered | undefined;
  #pending: Promise<Discovered> | undefined;
  #retryAt = 0;
  #lastFailure: unknown;

  constructor(
    name: string,
    config: OidcProviderConfig,
    options: { fetch: FetchLike; cacheTtlMs: number; log: Logger },
  ) {
    this.name = name;
    this.config = config;
    this.redirectUri = `${(config.redirect_address ?? '').replace(/\/+$/, '')}/auth/v1/method/oidc/${name}/callback`;
    this.#fetch = options.fetch;
    this.#cacheTtlMs = options.cacheTtlMs;
    this.#log = options.log;
  }

  /**
   * The provider's discovery, fetched again once `cache_ttl` has passed. One fetch at a time; after a failure the
   * previous discovery keeps serving (or, before the first success, the failure is repeated) until a retry is due.
   */
  async discovered(): Promise<Discovered> {
    const now = Date.now();
    const current = this.#discovered;
    if (now < this.#retryAt) {
      if (current !== undefined) return current;
      throw this.#lastFailure;
    }
    if (current !== undefined && now - current.discoveredAt < this.#cacheTtlMs) return current;
    this.#pending ??= this.#discover().finally(() => {
      this.#pending = undefined;
    });
    try {
      this.#discovered = await this.#pending;
      return this.#discovered;
    } catch (error) {
      this.#lastFailure = error;
      this.#retryAt = now + (current === undefined ? RETRY_AFTER_FIRST_FAILURE_MS : RETRY_AFTER_FAILURE_MS);
      if (current === undefined) throw error;
      this.#log.warn(
        { provider: this.name, reason: (error as Error).message },
        'could not refresh the provider discovery; using the previous one',
      );
      return current;
    }
  }

  async #discover(): Promise<Discovered> {
    const issuer = this.config.issuer_url ?? '';
    const url = this.config.discovery_url ?? `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const response = await this.#fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual' });
    if (response.status !== 200) {
      throw new PluginError(
        response.status >= 500 ? ErrorCodes.UNAVAILABLE : ErrorCodes.PLUGIN_FAILED,
        `discovery at ${url} answered ${response.status}`,
      );
    }
    const metadata = (await response.json()) as client.ServerMetadata;
    // With discovery_url, verification is pinned to issuer_url (a provider reached through an internal address
    // may name itself after that address); without it, the document must name exactly the configured issuer.
    if (this.config.discovery_url === undefined && metadata.issuer !== issuer) {
      throw new PluginError(
        ErrorCodes.PLUGIN_FAILED,
        `discovery at ${url} names the issuer "${String(metadata.issuer)}", not issuer_url "${issuer}"`,
      );
    }
    for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      if (typeof metadata[field] !== 'string') {
        throw new PluginError(ErrorCodes.PLUGIN_FAILED, `discovery at ${url} has no ${field}`);
      }
    }
    const server: client.ServerMetadata = { ...metadata, issuer };
    const openid = await openidClient();
    const configuration = new openid.Configuration(
      server,
      this.config.client_id ?? '',
      {
        [openid.clockTolerance]: OPENID_CLIENT_TOLERANCE_S,
        // The configured algorithms, not the discovery document's list, decide (oauth4webapi accepts a list here).
        id_token_signed_response_alg: algorithmsOf(this.config) as unknown as string,
      },
      clientAuthentication(openid, server, this.config.client_secret ?? ''),
    );
    configuration[openid.customFetch] = this.#fetch as typeof fetch;
    if (usesPlainHttp(server)) openid.allowInsecureRequests(configuration);
    const keys = remoteKeySet(server.jwks_uri as string, this.#fetch, { cacheMaxAgeMs: this.#cacheTtlMs });
    return { configuration, keys, discoveredAt: Date.now() };
  }

  /** The issuer openid-client holds the provider's answers to (`issuer_url`), from its discovery. */
  async issuer(): Promise<string> {
    const { configuration } = await this.discovered();
    return configuration.serverMetadata().issuer;
  }

  /** The provider's authorization URL for one login, with Flipt's parameters and then `authorize_parameters`. */
  async authorizationUrl(login: { state: string; nonce: string; codeVerifier?: string }): Promise<string> {
    const { configuration } = await this.discovered();
    const openid = await openidClient();
    const scopes = ['openid', ...this.config.scopes.filter((scope) => scope !== 'openid')];
    const url = openid.buildAuthorizationUrl(configuration, {
      nonce: login.nonce,
      redirect_uri: this.redirectUri,
      response_type: 'code',
      scope: scopes.join(' '),
      state: login.state,
      ...(login.codeVerifier !== undefined && {
        code_challenge: await openid.calculatePKCECodeChallenge(login.codeVerifier),
        code_challenge_method: 'S256',
      }),
    });
    for (const [key, value] of Object.entries(this.config.authorize_parameters)) {
      url.searchParams.append(key, value);
    }
    // Go's url.Values.Encode sorts by key.
    url.searchParams.sort();
    return url.href;
  }

  /**
   * Exchanges the code a callback received and checks everything about the ID token: signature (with the
   * configured algorithms), issuer, audience, expiry, nonce.
   */
  async exchange(
    callbackQuery: string,
    expected: { state: string; nonce: string; codeVerifier?: string },
  ): Promise<CodeExchange> {
    const { configuration, keys } = await this.discovered();
    const tokens = await (await openidClient()).authorizationCodeGrant(
      configuration,
      new URL(`${this.redirectUri}${callbackQuery}`),
      {
        expectedState: expected.state,
        expectedNonce: expected.nonce,
        idTokenExpected: true,
        ...(expected.codeVerifier !== undefined && { pkceCodeVerifier: expected.codeVerifier }),
      },
    );
    const idToken = tokens.id_token as string;
    const { payload } = await verifyJwt(idToken, keys, {
      algorithms: algorithmsOf(this.config),
      issuer: this.config.issuer_url ?? '',
      audience: this.config.client_id ?? '',
      timeRules: TIME_CLAIM_RULES.idToken,
    });
    return { idTokenClaims: { ...payload }, idToken, accessToken: tokens.access_token };
  }

  /**
   * The provider's userinfo for an access token (OpenID Connect Core 1.0 §5.3); its `sub` must be the ID token's.
   * A signed answer (`application/jwt`, §5.3.2) is verified as go-oidc verifies it — signature against the
   * provider's JWKS with the configured algorithms — and its `iss` and `aud`, when present, must name the provider and
   * this client; openid-client would hand its claims over unverified.
   */
  async userinfo(accessToken: string, subject: string): Promise<Record<string, unknown>> {
    const { configuration, keys } = await this.discovered();
    const endpoint = configuration.serverMetadata().userinfo_endpoint;
    if (endpoint === undefined) throw new Error('the provider has no userinfo_endpoint');
    const response = await (await openidClient()).fetchProtectedResource(
      configuration,
      accessToken,
      new URL(endpoint),
      'GET',
    );
    if (response.status !== 200) {
      await response.body?.cancel();
      throw Object.assign(new Error(`the userinfo endpoint answered ${response.status}`), {
        status: response.status,
      });
    }
    const text = await readTextLimited(response, MAX_USERINFO_BYTES, 'the userinfo answer');
    const contentType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    let claims: Record<string, unknown>;
    if (contentType === 'application/jwt') {
      ({ payload: claims } = await verifyJwt(text, keys, {
        algorithms: algorithmsOf(this.config),
        timeRules: TIME_CLAIM_RULES.userinfo,
      }));
      if (claims.iss !== undefined && claims.iss !== this.config.issuer_url) {
        throw new Error('the signed userinfo names another issuer');
      }
      const audiences = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
      if (
        audiences !== undefined &&
        !(Array.isArray(audiences) && audiences.includes(this.config.client_id))
      ) {
        throw new Error('the signed userinfo is for another client');
      }
    } else {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error('the userinfo answer is not a JSON object');
      }
      claims = parsed as Record<string, unknown>;
    }
    if (claims.sub !== subject) throw new Error('the userinfo answer is for another subject');
    return { ...claims };
  }

  /**
   * Verifies a back-channel logout token as OpenID Connect Back-Channel Logout 1.0 §2.6 says: signed by the
   * provider with an allowed algorithm, for this client, recent (`TIME_CLAIM_RULES.logoutToken`), with `jti`, `exp`
   * and the logout event, without a nonce. (Whether it names a `sid` or a `sub` is the caller's to check.)
   */
  async verifyLogoutToken(token: string): Promise<LogoutToken> {
    const { keys } = await this.discovered();
    const { payload, protectedHeader } = await verifyJwt(token, keys, {
      algorithms: algorithmsOf(this.config),
      issuer: this.config.issuer_url ?? '',
      audience: this.config.client_id ?? '',
      requiredClaims: ['iat', 'exp', 'jti', 'events'],
      timeRules: TIME_CLAIM_RULES.logoutToken,
    });
    if (protectedHeader.typ !== undefined && protectedHeader.typ.toLowerCase() !== 'logout+jwt') {
      throw new Error(`a logout token must not be typed "${protectedHeader.typ}"`);
    }
    const event = (payload.events as Record<string, unknown> | null)?.[BACKCHANNEL_LOGOUT_EVENT];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new Error('the logout token has no back-channel logout event');
    }
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    if (typeof payload.jti !== 'string' || payload.jti === '') throw new Error('the logout token has no jti');
    return {
      jti: payload.jti,
      acceptedUntilMs: acceptedUntilMs(payload, TIME_CLAIM_RULES.logoutToken),
      ...(typeof payload.sid === 'string' && payload.sid !== '' && { sid: payload.sid }),
      ...(typeof payload.sub === 'string' && payload.sub !== '' && { sub: payload.sub }),
    };
  }

  /**
   * Where the browser ends its session at the provider (RP-initiated logout), as Flipt writes it:
   * `<end_session_endpoint>?id_token_hint=...&post_logout_redirect_uri=<redirect_address>`; `undefined` when the
   * provider has no end-session endpoint.
   */
  async endSessionUrl(idToken: string): Promise<string | undefined> {
    const { configuration } = await this.discovered();
    const endpoint = configuration.serverMetadata().end_session_endpoint;
    if (endpoint === undefined) return undefined;
    const url = new URL(endpoint);
    url.searchParams.set('id_token_hint', idToken);
    url.searchParams.set('post_logout_redirect_uri', this.config.redirect_address ?? '');
    return url.href;
  }
}

/**
 * The client authentication Go's oauth2 would settle on: HTTP Basic unless the provider says it accepts only
 * credentials in the form body.
 */
function clientAuthentication(
  openid: typeof client,
  server: client.ServerMetadata,
  secret: string,
): client.ClientAuth {
  const methods = server.token_endpoint_auth_methods_supported;
  return methods !== undefined &&
    !methods.includes('client_secret_basic') &&
    methods.includes('client_secret_post')
    ? openid.ClientSecretPost(secret)
    : openid.ClientSecretBasic(secret);
}

/** Flipt talks to a provider over plain HTTP when told to (a development IdP); openid-client must be told too. */
function usesPlainHttp(server: client.ServerMetadata): boolean {
  return [
    server.issuer,
    server.authorization_endpoint,
    server.token_endpoint,
    server.userinfo_endpoint,
    server.jwks_uri,
  ]
    .filter((url): url is string => typeof url === 'string')
    .some((url) => url.startsWith('http:'));
}
