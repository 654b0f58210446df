import { CredentialPipeline } from './auth/pipeline.ts';
import { CredentialMap } from './config/credentials.ts';
import { type LoadedConfig, type LoadOptions, loadConfig } from './config/load.ts';
import type { Locator } from './config/locate.ts';
import type { RootConfig } from './config/types.ts';
import {
  type ErrorCode,
  ErrorCodes,
  errorCode,
  errorMessage,
  formatIssue,
  PluginError,
  PortcullisError,
} from './errors.ts';
import { createSessionHelpers } from './http/cookies.ts';
import { createLogger, type LogDestination, type Logger, SecretScrubber } from './log.ts';
import { type AuditRecorder, NO_AUDIT } from './observe/audit/record.ts';
import { AuditStream, auditEnabled } from './observe/audit/stream.ts';
import { observedSession } from './observe/logins.ts';
import { Metrics } from './observe/metrics.ts';
import { createMethodContext, createSecretContext } from './plugins/context.ts';
import type { MethodInstance, MethodPlugin, SecretSource, SessionHelpers } from './plugins/contracts.ts';
import { guard, guardCreate } from './plugins/guard.ts';
import { checkMethodInstance } from './plugins/instance.ts';
import type { PluginRegistry } from './plugins/registry.ts';
import { logFailures } from './references/refresh.ts';
import { backoff, resolveSecretReferences, sleep } from './references/resolve.ts';
import { createAuthenticationStore } from './store/create.ts';
import type { AuthenticationStore } from './store/types.ts';

/** How to create a runtime: where the configuration comes from, plus where logs go. */
export interface RuntimeOptions extends LoadOptions {
  /** Where logs go instead of `log.file` or standard output (tests, embedding). */
  readonly logDestination?: LogDestination;
  /** How long each plugin's `create` may take (milliseconds); default 60 000. */
  readonly pluginCreateTimeoutMs?: number;
}

const PLUGIN_CREATE_TIMEOUT_MS = 60_000;

/** An enabled method, started. */
export interface RunningMethod {
  readonly name: string;
  readonly plugin: MethodPlugin<object>;
  /** Its validated block, secrets resolved. */
  readonly config: Record<string, unknown>;
  readonly instance: MethodInstance;
}

/** Everything portcullis runs, apart from HTTP: what `serve` and an embedding application share. */
export interface Runtime {
  /** The validated configuration with secret references resolved. Treat as read-only. */
  readonly config: RootConfig;
  readonly log: Logger;
  readonly registry: PluginRegistry;
  readonly store: AuthenticationStore;
  /** The enabled methods, in registry order (Flipt's for the built-ins). */
  readonly methods: ReadonlyMap<string, RunningMethod>;
  readonly pipeline: CredentialPipeline;
  /** Session settings and cookie helpers (also what methods get as `ctx.session`). */
  readonly session: SessionHelpers;
  readonly locator: Locator;
  /** Its Prometheus metrics (shared by the configurations one `portcullis serve` runs, one after another). */
  readonly metrics: Metrics;
  /** Its audit stream (`audit:`); records nothing when no sink is enabled. */
  readonly audit: AuditRecorder;
  /** Removes every resolved secret value from an error (see {@link SecretScrubber.scrubError}). */
  scrubError<T>(error: T): T;
  /** Closes the methods, the store and the secret stores, in that order. */
  close(): Promise<void>;
}

type Closable = readonly [string, { close?(): void | Promise<void> }];

async function closeAll(closables: readonly Closable[], log: Logger): Promise<void> {
  for (const [name, closable] of [...closables].reverse()) {
    try {
      await guard(name, 'close', () => closable.close?.());
    } catch (error) {
      log.warn({ plugin: name, reason: errorMessage(error) }, 'failed to close');
    }
  }
}

/**
 * A resource several runtimes use at once (the store, the secret stores, while one configuration replaces
 * another): closed when the last of them lets go.
 */
export class SharedResource<T> {
  #holders = 1;
  readonly value: T;
  readonly #close: () => Promise<void>;

  constructor(value: T, close: () => Promise<void>) {
    this.value = value;
    this.#close = close;
  }

  /** One more holder; each must {@link SharedResource.release} once. */
  acquire(): this {
    this.#holders += 1;
    return this;
  }

  async release(): Promise<void> {
    this.#holders -= 1;
    if (this.#holders === 0) await this.#close();
  }
}

/** The enabled secret stores of a configuration, open. */
export type OpenSecretSources = SharedResource<ReadonlyMap<string, SecretSource>>;

/** How {@link openSecretSources} opens the stores. */
export interface OpenSourcesOptions {
  /** How long each `create` may take (milliseconds). Default 60 000. */
  readonly createTimeoutMs?: number;
  /**
   * How long a `create` that fails because its store cannot be reached now (its error's code, or its cause's, is
   * `ERR_UNAVAILABLE`) is tried again, with backoff, each retry logged (milliseconds; `secrets.startup_timeout` at
   * start-up). Default 0: once. Other failures (a setting the store cannot use) stop at once.
   */
  readonly retryForMs?: number;
  /** When given, a store that fails to open is reported here and left out, and the others still open. */
  readonly onFailure?: (name: string, error: unknown) => void;
  /** Stops waiting for the stores (shutdown); one that opens later is closed. */
  readonly signal?: AbortSignal;
}

/**
 * Whether a failure may go away by itself: something could not be reached (`ERR_UNAVAILABLE`, on the error or its
 * cause), the configuration is not at fault.
 */
export const isUnavailable = (error: unknown) =>
  errorCode(error) === ErrorCodes.UNAVAILABLE ||
  errorCode((error as { cause?: unknown })?.cause) === ErrorCodes.UNAVAILABLE;

/** The codes a store's own failure to open keeps, rather than the generic `ERR_PLUGIN_FAILED` of any plugin's. */
const STORE_CODES: ReadonlySet<unknown> = new Set([
  ErrorCodes.SECRET_PROVIDER,
  ErrorCodes.UNAVAILABLE,
  ErrorCodes.SECRET_NOT_FOUND,
  ErrorCodes.SECRET_REFERENCE_INVALID,
]);

/** `error` (a failed `create`, wrapped by the guard) with the store's own code when it gave one of {@link STORE_CODES}. */
function storeCode(error: unknown, plugin: string): unknown {
  const own = errorCode((error as { cause?: unknown })?.cause);
  if (errorCode(error) !== ErrorCodes.PLUGIN_FAILED || !STORE_CODES.has(own)) return error;
  return new PluginError(own as ErrorCode, errorMessage(error), { plugin });
}

/** `creating`, unless `signal` aborts first: then a store it opens later is closed, and the wait rejects. */
async function untilAborted(
  creating: Promise<SecretSource>,
  signal: AbortSignal | undefined,
): Promise<SecretSource> {
  if (signal === undefined) return creating;
  let stop: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    stop = () => {
      creating.then(
        (late) => late.close?.(),
        () => undefined,
      );
      reject(new PortcullisError(ErrorCodes.UNAVAILABLE, 'cancelled: portcullis is shutting down'));
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  try {
    return await Promise.race([creating, aborted]);
  } finally {
    if (stop !== undefined) signal.removeEventListener('abort', stop);
  }
}

/**
 * Creates the secret stores `loaded` enables, in registry order. Any failure (after the retries
 * `options.retryForMs` allows) closes those already open and rejects, unless `options.onFailure` takes it.
 */
export async function openSecretSources(
  loaded: LoadedConfig,
  log: Logger,
  options: OpenSourcesOptions = {},
): Promise<OpenSecretSources> {
  const { createTimeoutMs = PLUGIN_CREATE_TIMEOUT_MS, retryForMs = 0, onFailure, signal } = options;
  const deadline = Date.now() + retryForMs;
  const sources = new Map<string, SecretSource>();
  const opened: Closable[] = [];
  try {
    for (const entry of loaded.registry.entries('secrets')) {
      const block = loaded.config.secrets.providers[entry.name];
      if (block?.enabled !== true) continue;
      const context = createSecretContext({ name: entry.name, log, env: loaded.env });
      let source: SecretSource | undefined;
      for (const delay of backoff()) {
        try {
          const provider = await loaded.registry.provider(entry.name);
          // A store that connects in create (a login) gets what one fetch gets; one that hangs is unavailable.
          const limitMs = Math.min(createTimeoutMs, loaded.config.secrets.fetch_timeout);
          const creating = guardCreate(entry.name, limitMs, () => provider.create(context, block), {
            code: ErrorCodes.UNAVAILABLE,
            ...(limitMs < createTimeoutMs && { setting: 'secrets.fetch_timeout' }),
          });
          source = await untilAborted(creating, signal);
          break;
        } catch (error) {
          const wait = Math.min(delay, deadline - Date.now());
          if (isUnavailable(error) && wait > 0) {
            log.warn(
              { provider: entry.name, reason: errorMessage(error), retryInMs: wait },
              'secret store not reachable yet; retrying',
            );
            await sleep(wait);
            continue;
          }
          const failure = storeCode(error, entry.name);
          if (onFailure === undefined) throw failure;
          onFailure(entry.name, failure);
          break;
        }
      }
      if (source === undefined) continue;
      sources.set(entry.name, source);
      opened.push([entry.name, source]);
    }
  } catch (error) {
    await closeAll(opened, log);
    throw error;
  }
  return new SharedResource<ReadonlyMap<string, SecretSource>>(sources, () => closeAll(opened, log));
}

/** Resolves every reference of `loaded` at start-up: retried for `secrets.startup_timeout`, each retry logged. */
export function resolveAtStartup(
  loaded: LoadedConfig,
  sources: OpenSecretSources,
  log: Logger,
  metrics?: Metrics,
) {
  const { fetch_timeout, startup_timeout } = loaded.config.secrets;
  return resolveSecretReferences(loaded.config, loaded.references, sources.value, {
    metrics,
    timeoutMs: fetch_timeout,
    retryForMs: startup_timeout,
    onRetry: (failures, delayMs) =>
      logFailures(log, failures, 'secret not resolved yet; retrying', { retryInMs: delayMs }),
  });
}

/** What one runtime is built from: a configuration whose references are resolved, and the resources it uses. */
export interface RuntimeParts {
  readonly loaded: LoadedConfig;
  /** `loaded.config` with every reference resolved. */
  readonly config: RootConfig;
  readonly log: Logger;
  readonly scrubber: SecretScrubber;
  /** Held by the runtime (released when it closes). */
  readonly sources: OpenSecretSources;
  /** Held by the runtime; opened here when absent. */
  readonly store?: SharedResource<AuthenticationStore>;
  readonly createTimeoutMs?: number;
  /** The metrics to count into (the previous configuration's on a reload); new ones when absent. */
  readonly metrics?: Metrics;
  /** Held by the runtime; opened here (from `config.audit`) when absent. */
  readonly audit?: SharedAudit;
}

/** A runtime's audit stream, as a resource the configurations one server runs share while `audit` is unchanged. */
export type SharedAudit = SharedResource<AuditRecorder>;

/**
 * Opens the audit stream `config.audit` asks for ({@link NO_AUDIT} when no sink is enabled), counting into
 * `metrics`. Closing it (the last holder's release) delivers what it holds, for up to 5 s.
 */
export function openAudit(config: RootConfig, log: Logger, metrics: Metrics): SharedAudit {
  if (!auditEnabled(config.audit)) return new SharedResource<AuditRecorder>(NO_AUDIT, async () => undefined);
  const stream = new AuditStream(config.audit, { log, registry: metrics.registry });
  return new SharedResource<AuditRecorder>(stream, () => stream.close());
}

/** Opens the authentication store `config` asks for, as a resource runtimes share. */
export async function openStore(
  config: RootConfig,
  log: Logger,
  metrics?: Metrics,
): Promise<SharedResource<AuthenticationStore>> {
  const store = await createAuthenticationStore(config, { log, metrics });
  return new SharedResource(store, () => closeAll([['store', store]], log));
}

/**
 * Builds a runtime from resolved parts: opens the store (unless given) and starts the enabled methods. Takes
 * over `parts.sources` and `parts.store`: they are released when the runtime closes, or at once if building fails.
 */
export async function assembleRuntime(parts: RuntimeParts): Promise<Runtime> {
  const { loaded, config, log, scrubber } = parts;
  const metrics = parts.metrics ?? new Metrics();
  const opened: Closable[] = [['secret stores', { close: () => parts.sources.release() }]];
  const sharedAudit = parts.audit ?? openAudit(config, log, metrics);
  // Closed last: what closing the methods records (nothing today) would still be delivered.
  opened.unshift(['audit', { close: () => sharedAudit.release() }]);
  const audit = sharedAudit.value;
  try {
    const shared = parts.store ?? (await openStore(config, log, metrics));
    opened.push(['store', { close: () => shared.release() }]);
    const store = shared.value;
    const createTimeoutMs = parts.createTimeoutMs ?? PLUGIN_CREATE_TIMEOUT_MS;
    const session = createSessionHelpers(config.authentication.session, { store });
    const methods = new Map<string, RunningMethod>();
    for (const entry of loaded.registry.entries('method')) {
      const block = config.authentication.methods[entry.name];
      if (block?.enabled !== true) continue;
      const plugin = await loaded.registry.method(entry.name);
      const { context, release } = createMethodContext({
        name: entry.name,
        log,
        config,
        store,
        session: observedSession(session, plugin.method, metrics, audit, config.gateway.trusted_proxies),
        locator: loaded.locator,
        metrics: metrics.forPlugin(entry.name, log),
        audit,
      });
      let instance: MethodInstance;
      try {
        instance = await guardCreate(entry.name, createTimeoutMs, () => plugin.create(context, block));
      } catch (error) {
        await release();
        throw error;
      }
      let unknown: string[];
      try {
        unknown = checkMethodInstance(instance, entry.name);
      } catch (error) {
        await guard(entry.name, 'close', () => (instance as Partial<MethodInstance>).close?.()).catch(
          () => undefined,
        );
        await release();
        throw error;
      }
      if (unknown.length > 0) {
        log.warn(
          { plugin: entry.name, members: unknown },
          `plugin "${entry.name}": its method instance has members portcullis does not call (a misspelled hook?); the members are routes, schemes, authenticate, admit, endSession, clientTokens, findClientToken, identity, close`,
        );
      }
      const started = instance;
      opened.push([
        entry.name,
        {
          async close() {
            try {
              await started.close?.();
            } finally {
              await release();
            }
          },
        },
      ]);
      methods.set(entry.name, { name: entry.name, plugin, config: block, instance });
    }
    const pipeline = new CredentialPipeline({
      log,
      store,
      methods: [...methods.values()].map((m) => ({
        name: m.name,
        method: m.plugin.method,
        instance: m.instance,
      })),
    });

    let closing: Promise<void> | undefined;
    return {
      config,
      log,
      registry: loaded.registry,
      store,
      methods,
      pipeline,
      session,
      locator: loaded.locator,
      metrics,
      audit,
      scrubError: (error) => scrubber.scrubError(error),
      close() {
        closing ??= closeAll(opened, log);
        return closing;
      },
    };
  } catch (error) {
    await closeAll(opened, log);
    throw error;
  }
}

const credentialsOf = new WeakMap<LoadedConfig, readonly string[]>();

/**
 * The credentials written in a loaded configuration (settings marked writeOnly: client secrets, static tokens), as
 * the scrubber keeps them out of log lines; worked out once per load, however many runtimes are built from it.
 */
export function writtenCredentials(loaded: LoadedConfig): readonly string[] {
  let values = credentialsOf.get(loaded);
  if (values === undefined) {
    values = new CredentialMap(loaded.schema).values(loaded.config).map((credential) => credential.value);
    credentialsOf.set(loaded, values);
  }
  return values;
}

/** Loads the configuration and creates the logger it asks for, with the credentials written in it scrubbed. */
export async function loadForRuntime(
  options: RuntimeOptions,
): Promise<{ loaded: LoadedConfig; log: Logger; scrubber: SecretScrubber }> {
  const loaded = await loadConfig(options);
  const scrubber = new SecretScrubber();
  // Credentials written in the file (settings marked writeOnly: client secrets, static tokens) are kept out of log
  // lines as resolved secrets are: a plugin logging its config, or a library its options, shows neither.
  scrubber.add(writtenCredentials(loaded));
  const log = createLogger(loaded.config.log, scrubber, options.logDestination);
  for (const warning of loaded.warnings) log.warn(formatIssue(warning));
  return { loaded, log, scrubber };
}

/**
 * Creates a runtime: loads and validates the configuration, opens the enabled secret stores, resolves every
 * `${secret:...}` (all or nothing; a store that cannot be reached is retried for `secrets.startup_timeout`),
 * opens the authentication store, and starts the enabled methods. Any failure closes whatever was opened and
 * rejects with a coded error.
 *
 * Secrets are resolved once: `secrets.refresh_interval` and reloading on `SIGHUP` are served by `startServer`
 * (`portcullis serve`), which replaces whole runtimes.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const { loaded, log, scrubber } = await loadForRuntime(options);
  if (loaded.config.secrets.refresh_interval > 0) {
    log.warn(
      'secrets.refresh_interval is applied by portcullis serve (startServer); this embedded runtime resolves its secrets once',
    );
  }
  let sources: OpenSecretSources | undefined;
  try {
    const createTimeoutMs = options.pluginCreateTimeoutMs ?? PLUGIN_CREATE_TIMEOUT_MS;
    sources = await openSecretSources(loaded, log, {
      createTimeoutMs,
      retryForMs: loaded.config.secrets.startup_timeout,
    });
    const resolution = await resolveAtStartup(loaded, sources, log);
    // In use for as long as this runtime runs: never dropped, however many there are.
    scrubber.keep([...writtenCredentials(loaded), ...resolution.values]);
    const held = sources;
    sources = undefined;
    const runtime = await assembleRuntime({
      loaded,
      config: resolution.config,
      log,
      scrubber,
      sources: held,
      createTimeoutMs,
    });
    const close = runtime.close;
    let closing: Promise<void> | undefined;
    return {
      ...runtime,
      close() {
        closing ??= close().then(() => log.flush());
        return closing;
      },
    };
  } catch (error) {
    await sources?.release();
    // A plugin or a library may have put a resolved value in its message (a secret used as a path).
    throw scrubber.scrubError(error);
  }
}
