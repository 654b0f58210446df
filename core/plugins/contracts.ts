/**
 * The plugin contracts: the only types a plugin imports. Types only, no runtime code, so a third-party plugin
 * depends on nothing of ours at run time.
 *
 * A module lists itself under `plugins:` in the configuration and default-exports one plugin object or an
 * array of them. Built-in methods and secret stores are registered through the same registry.
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RootConfig } from '../config/types.ts';

export type { RootConfig } from '../config/types.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, once portcullis has authenticated it; absent on excluded and public routes. */
    authentication?: Authentication;
  }
  interface FastifyContextConfig {
    /** `false` marks a public route (a login or callback); such routes never require a credential. */
    authenticate?: boolean;
    /** `false` exempts a route from cross-origin protection (only for routes no browser form should reach). */
    csrf?: boolean;
  }
}

/** A JSON Schema (draft-07) object. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** A JSON value, as returned by `info()` and written to API responses. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A problem found by a plugin's `validate`. `path` is relative to the plugin's own block (for a method,
 * `authentication.methods.<name>`; for a secret provider, `secrets.providers.<name>`); the core adds the
 * prefix and the line and column.
 */
export interface ConfigIssue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

type LogFn = {
  (message: string): void;
  (fields: object, message?: string): void;
};

/** A pino-compatible logger, already bound to the plugin (`plugin: <name>`). Secrets are scrubbed on output. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/** What `fetch` a plugin is given: the standard WHATWG signature. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options for {@link MethodContext.createFetch}. */
export interface FetchOptions {
  /** PEM bundle to trust instead of the system store (for an IdP behind an internal CA). */
  readonly ca?: string;
  /** Abort a request that takes longer than this (milliseconds). Default 10 000. */
  readonly timeoutMs?: number;
}

/**
 * An authenticated principal, as the `/auth/v1` API shows it. `metadata` keys follow Flipt's
 * `io.flipt.auth.*` conventions for built-in methods.
 */
export interface Authentication {
  /** UUID for stored authentications, the token name for static tokens, `""` for stateless ones (JWT). */
  readonly id: string;
  /** The API enum name, e.g. `METHOD_OIDC`. */
  readonly method: string;
  readonly expiresAt?: Date;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A request-time credential offered to a method that declared its scheme (the `Authorization` header). */
export interface Credential {
  /** The scheme as sent, e.g. `JWT` in `Authorization: JWT eyJ...`. */
  readonly scheme: string;
  /** Everything after the scheme and one space. */
  readonly value: string;
}

/**
 * Store-side facts about a session, used to find it again (back-channel logout) or to end it at its provider
 * (RP-initiated logout). Never shown by the API.
 */
export interface SessionFacts {
  /** The provider key it came through (`providers.<name>`). */
  readonly provider?: string;
  /** The provider's `sub` for the user. */
  readonly subject?: string;
  /** The provider's session id (`sid`). */
  readonly sessionId?: string;
  /** The raw ID token, kept only when the provider ends sessions through `end_session_endpoint`. */
  readonly idToken?: string;
}

/** What a method stores when it creates a session (OIDC, GitHub) or exchanges a credential (Kubernetes). */
export interface NewAuthentication {
  readonly method: string;
  readonly expiresAt?: Date;
  readonly metadata: Readonly<Record<string, string>>;
  /** Use this client token instead of a random one (a configured bootstrap token). */
  readonly clientToken?: string;
  readonly extras?: SessionFacts;
}

/** Which stored authentications a delete applies to; at least one field must be set. */
export interface AuthenticationFilter {
  readonly id?: string;
  readonly method?: string;
  readonly expiredBefore?: Date;
  readonly provider?: string;
  readonly subject?: string;
  readonly sessionId?: string;
}

/** A page request for stored authentications. */
export interface ListRequest {
  /** Only this method (e.g. `METHOD_TOKEN`); all when absent. */
  readonly method?: string;
  /** Page size; 0 or absent means 25, more than 100 means 100. */
  readonly limit?: number;
  /** Where the previous page stopped: the `nextPageToken` it returned. */
  readonly pageToken?: string;
}

/** One page of authentications; `nextPageToken` is `""` on the last page. */
export interface ListResult {
  readonly authentications: Authentication[];
  readonly nextPageToken: string;
}

/** The part of the authentication store a method may use. */
export interface MethodStore {
  /** Stores a new authentication; the client token is returned once and only its hash is kept. */
  createAuthentication(
    input: NewAuthentication,
  ): Promise<{ clientToken: string; authentication: Authentication }>;
  getAuthenticationById(id: string): Promise<Authentication | undefined>;
  listAuthentications(request: ListRequest): Promise<ListResult>;
  /** Deletes what matches; resolves to how many were deleted. */
  deleteAuthentications(filter: AuthenticationFilter): Promise<number>;
  /** Keeps an OAuth challenge (PKCE verifier, nonce) under `state` for `ttlMs`. */
  putChallenge(state: string, value: string, ttlMs: number): Promise<void>;
  /** Returns and removes the challenge: a second pop of the same state finds nothing. */
  popChallenge(state: string): Promise<string | undefined>;
}

/** Session settings and the cookie helpers that OIDC- and GitHub-style methods call. */
export interface SessionHelpers {
  /** `authentication.session.domain`, normalised (no scheme, no port); `""` when no session method is enabled. */
  readonly domain: string;
  readonly secure: boolean;
  readonly tokenLifetimeMs: number;
  readonly stateLifetimeMs: number;
  /** Sets `flipt_client_token` as Flipt does: Path=/, Domain, Expires, HttpOnly, Secure per config, SameSite=Strict. */
  setTokenCookie(reply: FastifyReply, clientToken: string, expiresAt: Date): void;
  /**
   * Sets `flipt_client_state` as Flipt does: Path=`callbackPath`, Expires in `state_lifetime`, HttpOnly, Secure per
   * config, SameSite=Lax, Domain unless the domain starts with `localhost`.
   */
  setStateCookie(reply: FastifyReply, state: string, callbackPath: string): void;
  readStateCookie(request: FastifyRequest): string | undefined;
  /**
   * Starts a browser login as Flipt's HTTP middleware does: wraps the request's `state` query parameter in a new
   * state (`base64url(JSON{"security_token", "original_state"})`, 64 random bytes of it), sets that as the
   * state cookie bound to `<forwarded prefix><callbackPath>`, and returns it for the authorization URL.
   */
  startLogin(request: FastifyRequest, reply: FastifyReply, callbackPath: string): string;
  /** Whether a callback's `state` is non-empty and equal to the state cookie (compared in constant time). */
  stateMatches(request: FastifyRequest, state: string | undefined): boolean;
  /**
   * Ends a successful browser login as Flipt does: stores a session (`expiresAt` = now + `token_lifetime`) with the
   * given metadata and store-side facts, sets the token cookie, and makes the reply a `302` to
   * `<forwarded prefix>/`. Resolves to the body to send with it: `{"clientToken": "", "authentication": ...}`.
   */
  completeLogin(
    request: FastifyRequest,
    reply: FastifyReply,
    session: Omit<NewAuthentication, 'expiresAt' | 'clientToken'>,
  ): Promise<{ clientToken: string; authentication: { [key: string]: JsonValue } }>;
  /**
   * The `X-Forwarded-Prefix` the request came through, joined as Go's `path.Join` does, for the paths a method
   * sends browsers to. Only a plain absolute path is honoured (`""` otherwise), so a redirect built on it stays
   * on this origin.
   */
  forwardedPrefix(request: FastifyRequest): string;
  /** Expires both cookies (empty value, Max-Age=0, Path=/); `sameSite: 'None'` for front-channel logout. */
  clearCookies(reply: FastifyReply, options?: { readonly sameSite?: 'Strict' | 'None' }): void;
}

/** Counters a plugin may bump; exported on `/metrics` with a `plugin` label. */
export interface MethodMetrics {
  increment(name: string, labels?: Readonly<Record<string, string>>): void;
  observe(name: string, value: number, labels?: Readonly<Record<string, string>>): void;
}

/** Everything the runtime hands a method plugin when it creates it. */
export interface MethodContext {
  readonly log: Logger;
  readonly store: MethodStore;
  readonly session: SessionHelpers;
  /** `fetch` with the default timeout and the system trust store. */
  readonly fetch: FetchLike;
  /** A `fetch` with its own trust anchors and timeout, for one upstream (one OIDC provider, one JWKS URL). */
  createFetch(options: FetchOptions): FetchLike;
  /** The clock; tests replace it. */
  now(): Date;
  readonly metrics: MethodMetrics;
  /** The whole validated configuration, read-only. */
  readonly root: RootConfig;
}

/** A running method. Every member is optional: a method implements what it offers. */
export interface MethodInstance {
  /**
   * Mounts routes under `/auth/v1/method/<name>`, in an encapsulated Fastify context. They require
   * authentication (when `authentication.required` is true) unless a route sets `config: { authenticate: false }`,
   * as login and callback routes must.
   */
  routes?(app: FastifyInstance): void | Promise<void>;
  /** `Authorization` schemes this method owns, e.g. `['JWT']`. */
  readonly schemes?: readonly string[];
  /**
   * Checks a credential sent with one of {@link MethodInstance.schemes}. Resolves to the authentication,
   * to `null` when the credential is not this method's (another method with the same scheme may take it), or
   * rejects when it is this method's and invalid; the rejection's message is logged as the reason, never sent.
   */
  authenticate?(credential: Credential): Promise<Authentication | null>;
  /**
   * Checks, on every authenticated request, a session this method created (an authentication with its `method`,
   * found by client token). Rejecting refuses the request with 401; the message is logged as the reason. OIDC's
   * `email_matches` is enforced this way, as in Flipt.
   */
  admit?(authentication: Authentication): void | Promise<void>;
  /**
   * Called by `DELETE /auth/v1/self/revoke` for a session this method created, before it is deleted: the URL to
   * send the browser to so that the provider ends its session too (the response's `nextUri`), or `undefined`.
   * A rejection is logged and the session is deleted all the same.
   */
  endSession?(authentication: Authentication, facts: SessionFacts): Promise<string | undefined>;
  /** Releases timers, sockets and caches at shutdown. */
  close?(): void | Promise<void>;
}

/**
 * An authentication method. `C` is the type of the method's validated config block: exactly what
 * `configSchema` describes, with defaults applied and durations in milliseconds.
 */
export interface MethodPlugin<C = Record<string, unknown>> {
  readonly kind: 'method';
  /** The config key: `authentication.methods.<name>`. Letters, digits, `_` and `-`. */
  readonly name: string;
  /** The API enum string, e.g. `METHOD_OIDC`. */
  readonly method: string;
  /** Whether the method establishes browser sessions (cookies); those require `session.domain`. */
  readonly sessionCompatible: boolean;
  /**
   * JSON Schema (draft-07) of the block, closed with `additionalProperties: false`. The core adds
   * `enabled: boolean` when the schema does not declare it. `format: duration` values arrive in milliseconds.
   */
  readonly configSchema: JsonSchema;
  /** Cross-field rules beyond the schema. Runs only when the method is enabled. */
  validate?(config: C, root: RootConfig): ConfigIssue[];
  /**
   * The `metadata` of this method in `GET /auth/v1/method`, from its configuration, whether or not it is enabled
   * (Flipt lists GitHub's URLs even when GitHub is off). `prefix` is the `X-Forwarded-Prefix` the request came
   * through (`""` when none), for the relative URLs the metadata holds.
   */
  info?(config: C, context: { readonly prefix: string }): { [key: string]: JsonValue } | undefined;
  /**
   * For session methods: the public base URLs browsers are sent back to (each `redirect_address`). When
   * `authentication.session.domain` is unset and they all share one host, that host becomes the cookie domain.
   */
  redirectAddresses?(config: C): string[];
  /** Starts the method. Runs after secret references are resolved. */
  create(ctx: MethodContext, config: C): MethodInstance | Promise<MethodInstance>;
}

/** Everything the runtime hands a secret provider when it creates it. */
export interface SecretContext {
  readonly log: Logger;
  readonly fetch: FetchLike;
  now(): Date;
}

/**
 * A running secret store. `get` resolves to the secret's value; it rejects with an error whose `code` is
 * `ERR_SECRET_NOT_FOUND` when the secret or key does not exist. Messages must never contain a secret value.
 */
export interface SecretSource {
  /**
   * `${secret:<provider>:<path>}` calls `get(path)`; `${secret:<provider>:<path>:<key>}` calls `get(path, key)`.
   * Single-value stores return the whole value when `key` is absent and select a field when the value is JSON.
   */
  get(path: string, key?: string): Promise<string>;
  close?(): void | Promise<void>;
}

/** A secret store (`secrets.providers.<name>`). */
export interface SecretProvider<C = Record<string, unknown>> {
  readonly kind: 'secrets';
  /** The config key and the provider part of `${secret:<name>:...}`. */
  readonly name: string;
  /** JSON Schema of `secrets.providers.<name>`, closed; `enabled` is added when missing. */
  readonly configSchema: JsonSchema;
  /** Cross-field rules beyond the schema. Runs only when the provider is enabled. */
  validate?(config: C, root: RootConfig): ConfigIssue[];
  create(ctx: SecretContext, config: C): SecretSource | Promise<SecretSource>;
}

/**
 * Any plugin, whatever its config type. (Method parameters are bivariant, so a `MethodPlugin<MyConfig>` is a
 * `MethodPlugin<object>`.)
 */
export type Plugin = MethodPlugin<object> | SecretProvider<object>;
