/**
 * The fixtures a plugin author hands the conformance harnesses (`portcullis/conformance`): what to configure,
 * which credentials or secrets to try, and what must never be shown. Every field beyond `config` is optional; a
 * case that needs a field left out is reported skipped, with the reason, never passed.
 *
 * @packageDocumentation
 */

/** One harness case: a name and an async body that throws when the plugin does not conform. */
export interface ConformanceCase {
  /** What the case checks, e.g. `a bad credential is a coded refusal, a 401 through the server`. */
  readonly name: string;
  /**
   * Why the case cannot run with the fixtures given (a fixture left out, a store with no runtime yet). Adapters
   * report such a case as skipped, with this reason; `run` is not called.
   */
  readonly skip?: string;
  run(): Promise<void>;
}

/** The portcullis server a harness started for a case, as a credential fixture sees it. */
export interface HarnessServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly address: string;
  /** `fetch` against the server: `path` is joined to {@link HarnessServer.address}. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * A credential, as the whole value of an `Authorization` header (`JWT eyJ…`, `Bearer 0a1b…`, `Basic YWRh…`), or an
 * async function that obtains one from the running server (a browser login that ends with a client token, say,
 * returned as `Bearer <clientToken>`). A function is called once per server the harness starts.
 */
export type CredentialFixture = string | ((server: HarnessServer) => Promise<string>);

/** Fixtures for `methodPluginCases`. */
export interface MethodFixtures {
  /**
   * The method's block as an operator writes it under `authentication.methods.<name>` (YAML as an object:
   * durations as strings such as `'1h'`). `enabled: true` is added when absent. Must configure a working method:
   * the good credential authenticates against it.
   */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * Other sections of the configuration the harness serves, merged over its own (`server` on 127.0.0.1, an
   * ephemeral port; `authentication.required: true`; the memory session store; debug logs). Top-level keys
   * replace the harness's, except `server`, whose keys are merged over the harness's (give a fixed `http_port`
   * when an identity provider must know the redirect address before the server starts), and `authentication`,
   * whose keys are merged one level deep beside `methods` (give `authentication.session` here for a session
   * method). Another method may be enabled here too, e.g. to supply a foreign credential of the same scheme.
   */
  readonly root?: Readonly<Record<string, unknown>>;
  /**
   * A block that `validate` must accept while its string fields still hold unresolved `${secret:…}` references.
   * When absent, the harness derives one from {@link MethodFixtures.config} by replacing every string field,
   * at any depth, with `${secret:conformance:<path>}`; give one when some strings must stay literal (an enum).
   */
  readonly configWithReferences?: Readonly<Record<string, unknown>>;
  /**
   * A credential this method accepts: `GET /auth/v1/self` with it answers 200 with this method's authentication,
   * the one the identity case hands the method's `identity` hook.
   */
  readonly goodCredential?: CredentialFixture;
  /**
   * A credential of one of this method's own schemes that it must refuse: `authenticate` rejects with an error
   * carrying a refusal `code` (`ERR_UNAUTHENTICATED`, `ERR_PERMISSION_DENIED`, or a JOSE verification failure's
   * `ERR_JW…`/`ERR_JOSE_…`), and the server answers 401 in Flipt's error shape. For a method with no scheme (client
   * tokens, sessions), only the 401 is checked.
   */
  readonly badCredential?: CredentialFixture;
  /**
   * A credential of this method's scheme that belongs to someone else (a JWT from another issuer):
   * `authenticate` resolves to `null`. The harness also tries a scheme the method does not own, through the
   * server, whether or not this is given.
   */
  readonly foreignCredential?: CredentialFixture;
  /**
   * Values that must never appear in a log line, an error message, or a response (body or headers) of the
   * requests the harness makes: keys, client secrets, passwords in the config. The value part of the good and
   * bad credentials is added to this list.
   */
  readonly secrets?: readonly string[];
  /** How many authentications the concurrency case makes at once, good and bad mixed. Default 50. */
  readonly concurrency?: number;
}

/** Fixtures for `secretProviderCases`. */
export interface SecretProviderFixtures {
  /**
   * The provider's block as an operator writes it under `secrets.providers.<name>` (YAML as an object).
   * `enabled: true` is added when absent.
   */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * A block `validate` must accept while its string fields hold unresolved `${secret:…}` references (of another
   * provider). When absent, derived from {@link SecretProviderFixtures.config} as for methods.
   */
  readonly configWithReferences?: Readonly<Record<string, unknown>>;
  /**
   * Stores `value` as the secret at `path`, in the store the configured provider reads, so that `get(path)`
   * returns `value` and, when `value` is a JSON object, `get(path, key)` returns its `key` field. Called before the
   * provider's source is created. For `file`, write `<base_path>/<path>` in a temporary folder.
   * Without it, every case that reads a secret is skipped.
   */
  seed?(path: string, value: string): Promise<void>;
  /**
   * The environment the provider is created with (`ctx.env`, and the runtime's `env`): emulator switches, a region,
   * whatever knob the store reads there. Default: none. (An SDK that reads `process.env` itself does not see it.)
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Why the store cannot run here (no runtime yet, no emulator): every case that creates a source is skipped with
   * this reason. Schema and `validate` cases still run.
   */
  readonly unavailable?: string;
  /**
   * Paths the harness seeds and reads; defaults suit every store (lower-case letters and `-`). Override when the
   * store needs another form (a prefix, a mount).
   */
  readonly paths?: {
    /** A single-value secret. Default `conformance-plain`. */
    readonly plain?: string;
    /** A JSON secret. Default `conformance-json`. */
    readonly json?: string;
    /** A path never seeded. Default `conformance-missing`. */
    readonly missing?: string;
  };
  /** Values in the config that must never appear in an error message (a token, a key). Seeded values are added. */
  readonly secrets?: readonly string[];
  /** How many `get`s the concurrency case makes at once. Default 50. */
  readonly concurrency?: number;
}
