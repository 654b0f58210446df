/**
 * The plugin contracts, the types half of the kit (`portcullis/plugin`, entry `kit/index.ts`).
 *
 * A module lists itself under `plugins:` in the configuration and default-exports one plugin object or an
 * array of them. Built-in methods and secret stores are registered through the same registry and import nothing
 * but the kit, so whatever a built-in does, a third-party plugin can do.
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RootConfig } from '../config/types.ts';
import type { ErrorCode } from '../errors.ts';

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
   * state cookie bound to `<forwarded prefix><callbackPath>`, and returns it for the authorization URL. For a
   * {@link SessionHelpers.isGrpcCall | gRPC call} it returns the caller's `state` as it is and sets no cookie.
   */
  startLogin(
    request: FastifyRequest,
    reply: FastifyReply,
    callbackPath: string,
    options?: LoginOptions,
  ): string;
  /**
   * Whether a callback's `state` is non-empty and equal to the state cookie (compared in constant time); for a
   * {@link SessionHelpers.isGrpcCall | gRPC call}, the state cookie is the call's `flipt_client_state` metadata.
   */
  stateMatches(request: FastifyRequest, state: string | undefined, options?: LoginOptions): boolean;
  /**
   * Ends a successful browser login as Flipt does: stores a session (`expiresAt` = now + `token_lifetime`) with the
   * given metadata and store-side facts, sets the token cookie, and makes the reply a `302` to
   * `<forwarded prefix>/` — or, when the login was started from the web UI, to the page it was started for (the
   * `portcullis_return_to` cookie, checked to be a path on this origin, then cleared). Resolves to the body to send with it: `{"clientToken": "", "authentication": ...}`.
   * For a {@link SessionHelpers.isGrpcCall | gRPC call}: no cookie and no redirect (the reply stays a `200`), and
   * the body carries the new client token, as Flipt's `Callback` answers a gRPC client.
   */
  completeLogin(
    request: FastifyRequest,
    reply: FastifyReply,
    session: Omit<NewAuthentication, 'expiresAt' | 'clientToken'>,
  ): Promise<{ clientToken: string; authentication: { [key: string]: JsonValue } }>;
  /**
   * Whether `request` is one of Flipt's gRPC calls for this method (`AuthorizeURL`, `Callback`, ...) rather than an
   * HTTP request: portcullis answers those RPCs by making a request of the method's own route, in process, so that
   * the route holds the whole logic once. Such a request has no cookies and no redirect (the helpers above handle
   * that themselves); a method asks only for what else differs, such as a parameter the RPC cannot carry (OIDC's
   * callback has no `iss` over gRPC). A request that came over the network is never one, whatever headers it sends.
   * Since kit 1.2.0.
   */
  isGrpcCall(request: FastifyRequest): boolean;
  /**
   * The `X-Forwarded-Prefix` the request came through, joined as Go's `path.Join` does, for the paths a method
   * sends browsers to. Only a plain absolute path is honoured (`""` otherwise), so a redirect built on it stays
   * on this origin.
   */
  forwardedPrefix(request: FastifyRequest): string;
  /** Expires both cookies (empty value, Max-Age=0, Path=/); `sameSite: 'None'` for front-channel logout. */
  clearCookies(reply: FastifyReply, options?: { readonly sameSite?: 'Strict' | 'None' }): void;
  /**
   * Records a logout a method carried out itself at its provider's request — OpenID back-channel (a signed logout
   * token posted server to server) or front-channel (the provider loads a URL in a frame) — as the
   * `logout:back_channel` / `logout:front_channel` audit event, with the provider and how many sessions ended.
   * (`DELETE /auth/v1/self/revoke` is recorded by portcullis as `logout:self`.) Since kit 1.3.0.
   */
  recordLogout(request: FastifyRequest, logout: Logout): void;
  /**
   * Marks `request` as a login that is not an OAuth callback — a credential exchanged for a client token, as
   * Kubernetes' service account exchange is: it is counted and recorded as a login (`login:succeeded` when the
   * route answers with success, `login:refused` otherwise, its reason the thrown error's `reason`), as a callback
   * that calls {@link SessionHelpers.stateMatches} is. Since kit 1.3.0.
   */
  beginLogin(request: FastifyRequest, options?: LoginOptions): void;
}

/** What {@link SessionHelpers.recordLogout} records. */
export interface Logout {
  readonly kind: 'back_channel' | 'front_channel';
  /** The configured provider (`providers.<name>`) it came from. */
  readonly provider?: string;
  /** How many sessions it ended (0 when none matched). */
  readonly sessions: number;
}

/**
 * What a method says of the login it is starting ({@link SessionHelpers.startLogin}) or finishing
 * ({@link SessionHelpers.stateMatches} on its callback). Since kit 1.3.0.
 *
 * portcullis counts logins by method and provider (`portcullis_logins_total{method,provider,outcome}`: `started`
 * once the route that called `startLogin` answers with success, `succeeded`, `refused`) and records
 * `login:succeeded` / `login:refused` audit events: a callback request on which `stateMatches` was called (or an
 * exchange that called {@link SessionHelpers.beginLogin}) is a login attempt, which succeeds when `completeLogin`
 * resolves (an exchange: when the route answers 2xx) and is refused when the route answers otherwise (its reason id
 * is the thrown error's `reason`, else one named after its `code`).
 */
export interface LoginOptions {
  /**
   * The configured provider the login goes through (`providers.<name>`), for metrics and audit events; only a
   * name from the configuration, never one taken from the request unchecked (label values must stay bounded).
   */
  readonly provider?: string;
}

/**
 * An audit event's actor, in Flipt's shape (`audit.Actor`): who did it, where from. Every field optional.
 */
export interface AuditActor {
  /** The method of the actor's authentication, as Flipt writes it (`token`, `oidc`, `github`, ...). */
  readonly authentication?: string;
  /**
   * The client's address: the peer's, or, when the peer is one of `gateway.trusted_proxies`, the last address in
   * `X-Forwarded-For` that is not (a gRPC call's peer; Envoy's `source` for `ext_authz`).
   */
  readonly ip?: string;
  readonly email?: string;
  readonly name?: string;
  readonly picture?: string;
}

/** An event a plugin records with {@link MethodAudit.record}. */
export interface PluginAuditEvent {
  /** `success` (the default) or `denied`, as Flipt's events carry it. */
  readonly status?: 'success' | 'denied';
  readonly actor?: AuditActor;
  /** What happened, as JSON; never a credential or a secret (portcullis does not read it for them). */
  readonly payload?: Readonly<Record<string, JsonValue>>;
}

/**
 * `ctx.audit`: records an event to the configured audit sinks (`audit.sinks.log`, `audit.sinks.webhook`) when the
 * `audit.events` filters let `plugin:<action>` through; a no-op when no sink is enabled. The event's `type` is
 * `plugin` and its payload carries `plugin: <name>` beside the given fields. Never waits on a sink: a full buffer
 * drops its oldest events (counted in `portcullis_audit_events_dropped_total`). Since kit 1.3.0.
 */
export interface MethodAudit {
  /**
   * @param action a snake_case verb (`device_registered`), at most 64 characters; anything else throws
   *   `ERR_PLUGIN_FAILED`.
   */
  record(action: string, event?: PluginAuditEvent): void;
}

/**
 * Counters and histograms a plugin may record, exported on `/metrics` with a `plugin` label:
 * `increment(name, labels)` → `portcullis_plugin_<name>_total`, `observe(name, value, labels)` → the histogram
 * `portcullis_plugin_<name>` (give seconds for times, as Prometheus does). Names and label names are lower-case
 * snake case; a metric keeps the label names of its first use; label values must be bounded (no tokens, emails or
 * paths): past 1000 label sets a metric drops new ones. Misuse throws `ERR_PLUGIN_FAILED`. Working since kit 1.2.0
 * (threw before).
 */
export interface MethodMetrics {
  increment(name: string, labels?: Readonly<Record<string, string>>): void;
  observe(name: string, value: number, labels?: Readonly<Record<string, string>>): void;
}

/** Options of {@link PluginErrorRaiser}: a snake_case `reason` id for logs and metrics, and the error's cause. */
export interface RaiseOptions {
  readonly reason?: string;
  readonly cause?: unknown;
}

/**
 * Throws a `PluginError` with a stable `code` (see the README's error table for the HTTP and gRPC status each maps
 * to) naming this plugin, in the style of Rollup's `this.error()`. A refusal thrown from `authenticate` or `admit`
 * should be `ERR_UNAUTHENTICATED` (401) with a `reason` id such as `token_expired`; the message is logged, never sent.
 */
export type PluginErrorRaiser = (code: ErrorCode, message: string, options?: RaiseOptions) => never;

/** Everything the runtime hands a method plugin when it creates it. */
export interface MethodContext {
  /** See {@link PluginErrorRaiser}. */
  readonly error: PluginErrorRaiser;
  /**
   * Refuses the configuration after secret references are resolved (an empty secret, two tokens resolving to one
   * value): `ERR_CONFIG_INVALID`, each issue located as `validate` issues are, relative to this plugin's block.
   */
  configError(issues: readonly ConfigIssue[]): never;
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
  /** See {@link MethodAudit}. Since kit 1.3.0. */
  readonly audit: MethodAudit;
  /** The whole validated configuration, read-only. */
  readonly root: RootConfig;
}

/** A client token a method knows by its value; see {@link MethodInstance.clientTokens}. */
export interface KnownClientToken {
  /** The token as configured (text: its UTF-8 bytes are compared). Never logged, never sent. */
  readonly credential: string;
  readonly authentication: Authentication;
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
   * An answer known at once may be returned as it is (and a refusal thrown): the request then goes on without a
   * turn of the event loop, as the jwt method's does for a token whose key it knows. (Since kit 1.4.0: callers
   * that call it directly, as a plugin's own tests do, `await` it rather than call `then`.)
   */
  authenticate?(credential: Credential): Authentication | null | Promise<Authentication | null>;
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
  /**
   * Answers a client-token lookup (`Authorization: Bearer`, the `flipt_client_token` cookie) before the store:
   * resolves to the authentication whose token hashes to `tokenHash` (`hashClientToken` of the kit), or
   * `undefined` (or `null`) to let the store answer. The token method's static tokens are found this way. An authentication
   * returned here is subject to the same expiry and `admit` checks as a stored one.
   */
  findClientToken?(
    tokenHash: string,
  ): Authentication | null | undefined | Promise<Authentication | null | undefined>;
  /**
   * Client tokens this method knows by their value, each with the authentication a request carrying it gets: the
   * token method's configured static tokens. A request's client token (`Authorization: Bearer`, the
   * `flipt_client_token` cookie) is matched against every method's, byte for byte and in constant time, before it is
   * hashed for {@link MethodInstance.findClientToken} and the store, which saves a static token's request its
   * SHA-256; past eight tokens in all they are kept by hash instead. A credential is compared as its UTF-8 bytes with
   * the bytes the client sent (`credentialBytes`). An authentication matched is subject to the same expiry and
   * `admit` checks as a stored one, and must be made with `frozenAuthentication`, as every request is handed it
   * as it is. Read once, when the method is created: `ERR_PLUGIN_INVALID` for an empty credential, one declared
   * twice (by this method or another), or an authentication not made with `frozenAuthentication`. Since kit 1.7.0.
   */
  readonly clientTokens?: readonly KnownClientToken[];
  /**
   * Who an authentication of this method (its {@link MethodPlugin.method}) is, as the gateway tells upstreams
   * (`X-Auth-Request-User`, `X-Auth-Request-Email`): read from the metadata this method wrote. A part left out
   * falls back to the authentication's id (user) or nothing (email).
   */
  identity?(authentication: Authentication): { readonly user?: string; readonly email?: string };
  /** Releases timers, sockets and caches at shutdown. */
  close?(): void | Promise<void>;
}

/**
 * An authentication method. `C` is the type of the method's validated config block: exactly what
 * `configSchema` describes, with defaults applied and durations in milliseconds.
 */
export interface MethodPlugin<C = Record<string, unknown>> {
  readonly kind: 'method';
  /** The kit versions this plugin was written for, a semver range (`'^1.0.0'`); see `KIT_API_VERSION`. */
  readonly apiVersion: string;
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
  /**
   * Cross-field rules beyond the schema. Runs only when the method is enabled, and **before** secret references
   * are resolved: a string field may still hold `${secret:provider:path}`, so check its shape only when it is not
   * a reference.
   *
   * @example
   * ```ts
   * validate(config) {
   *   // `url: ${secret:vault:idp:url}` is checked once resolved, in create(); a literal is checked now.
   *   if (!isSecretReference(config.url) && !isHttpUrl(config.url)) {
   *     return [{ path: ['url'], message: `url must be an http(s) URL, got ${quoteValue(config.url)}` }];
   *   }
   *   return [];
   * }
   * ```
   */
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
  /**
   * The number of {@link MethodPlugin.method} in Flipt's `auth.Method` protobuf enum (`METHOD_TOKEN` is 1,
   * `METHOD_OIDC` 2, `METHOD_KUBERNETES` 3, `METHOD_GITHUB` 4, `METHOD_JWT` 5), so that `GET /auth/v1/tokens?method=2`
   * and gRPC clients can name the method by number. A third-party method has none and is named by its string.
   */
  readonly methodNumber?: number;
  /** Starts the method. Runs after secret references are resolved. */
  create(ctx: MethodContext, config: C): MethodInstance | Promise<MethodInstance>;
}

/** Everything the runtime hands a secret provider when it creates it. */
export interface SecretContext {
  /** See {@link PluginErrorRaiser}. */
  readonly error: PluginErrorRaiser;
  readonly log: Logger;
  readonly fetch: FetchLike;
  /**
   * The environment the configuration was loaded with (`process.env` under `serve`; what an embedding application
   * or a test passed as `env`). Read a store's environment knobs (`VAULT_TOKEN`, `AWS_REGION`, ...) here rather
   * than from `process.env`, so that a runtime created with its own `env` sees the same values. SDKs that read
   * `process.env` themselves (credential chains) still do. Since kit 1.1.0.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  now(): Date;
}

/** What the runtime passes with each {@link SecretSource.get}. Since kit 1.1.0. */
export interface SecretGetOptions {
  /**
   * Aborted when the runtime stops waiting for this call (its per-call timeout, `secrets.fetch_timeout`, or
   * shutdown). Hand it to the SDK's call so that the request is cancelled rather than left running.
   */
  readonly signal: AbortSignal;
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
  get(path: string, key?: string, options?: SecretGetOptions): Promise<string>;
  /**
   * Optional: tells the runtime as soon as the secret at `path` may have changed (a file rewritten, a Kubernetes
   * secret volume's symbolic link swapped), so that a change is applied before the next `secrets.refresh_interval`
   * tick. `onChange` only prompts a fetch: it may be called when nothing changed, and need not be called for every
   * change (the periodic fetch still runs). Returns a function that stops watching. Called only when
   * `secrets.refresh_interval` is set. Since kit 1.1.0.
   */
  watch?(path: string, onChange: () => void): () => void;
  close?(): void | Promise<void>;
}

/** A secret store (`secrets.providers.<name>`). */
export interface SecretProvider<C = Record<string, unknown>> {
  readonly kind: 'secrets';
  /** The kit versions this plugin was written for, a semver range (`'^1.0.0'`); see `KIT_API_VERSION`. */
  readonly apiVersion: string;
  /** The config key and the provider part of `${secret:<name>:...}`. */
  readonly name: string;
  /** JSON Schema of `secrets.providers.<name>`, closed; `enabled` is added when missing. */
  readonly configSchema: JsonSchema;
  /**
   * Cross-field rules beyond the schema. Runs only when the provider is enabled. The core refuses `${secret:...}`
   * anywhere under `secrets:` (a store cannot depend on another), so a provider's own block holds literals only;
   * the config its `create` gets is the one `validate` saw.
   */
  validate?(config: C, root: RootConfig): ConfigIssue[];
  /**
   * Opens the store. Throw `ERR_UNAVAILABLE` (naming the store and the cause) when it cannot be reached now (a
   * connection refused, a sealed Vault): at start-up the runtime then tries again, with backoff, for
   * `secrets.startup_timeout`. Any other failure (a setting the store cannot use, credentials refused) stops
   * start-up at once; use `ERR_SECRET_PROVIDER` for those.
   */
  create(ctx: SecretContext, config: C): SecretSource | Promise<SecretSource>;
}

/**
 * Any plugin, whatever its config type. (Method parameters are bivariant, so a `MethodPlugin<MyConfig>` is a
 * `MethodPlugin<object>`.)
 */
export type Plugin = MethodPlugin<object> | SecretProvider<object>;
