import { CredentialPipeline } from './auth/pipeline.ts';
import { CredentialMap } from './config/credentials.ts';
import { type LoadedConfig, type LoadOptions, loadConfig } from './config/load.ts';
import type { Locator } from './config/locate.ts';
import type { RootConfig } from './config/types.ts';
import { errorMessage, formatIssue } from './errors.ts';
import { createSessionHelpers } from './http/cookies.ts';
import { createLogger, type LogDestination, type Logger, SecretScrubber } from './log.ts';
import { createMethodContext, createSecretContext } from './plugins/context.ts';
import type { MethodInstance, MethodPlugin, SecretSource, SessionHelpers } from './plugins/contracts.ts';
import { guard, guardCreate } from './plugins/guard.ts';
import { checkMethodInstance } from './plugins/instance.ts';
import type { PluginRegistry } from './plugins/registry.ts';
import { resolveSecretReferences } from './references/resolve.ts';
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

async function openSecretSources(
  loaded: LoadedConfig,
  log: Logger,
  opened: Closable[],
  createTimeoutMs: number,
) {
  const sources = new Map<string, SecretSource>();
  for (const entry of loaded.registry.entries('secrets')) {
    const block = loaded.config.secrets.providers[entry.name];
    if (block?.enabled !== true) continue;
    const provider = await loaded.registry.provider(entry.name);
    const context = createSecretContext({ name: entry.name, log, env: loaded.env });
    const source = await guardCreate(entry.name, createTimeoutMs, () => provider.create(context, block));
    sources.set(entry.name, source);
    opened.push([entry.name, source]);
  }
  return sources;
}

/**
 * Creates a runtime: loads and validates the configuration, opens the enabled secret stores, resolves every
 * `${secret:...}` (all or nothing), opens the authentication store, and starts the enabled methods. Any failure
 * closes whatever was opened and rejects with a coded error.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const loaded = await loadConfig(options);
  const scrubber = new SecretScrubber();
  // Credentials written in the file (settings marked writeOnly: client secrets, static tokens) are kept out of log
  // lines as resolved secrets are: a plugin logging its config, or a library its options, shows neither.
  scrubber.add(new CredentialMap(loaded.schema).values(loaded.config).map((credential) => credential.value));
  const log = createLogger(loaded.config.log, scrubber, options.logDestination);
  for (const warning of loaded.warnings) log.warn(formatIssue(warning));

  const opened: Closable[] = [];
  try {
    const createTimeoutMs = options.pluginCreateTimeoutMs ?? PLUGIN_CREATE_TIMEOUT_MS;
    const sources = await openSecretSources(loaded, log, opened, createTimeoutMs);
    const resolution = await resolveSecretReferences(loaded.config, loaded.references, sources);
    scrubber.add(resolution.values);
    const config = resolution.config;

    const store = await createAuthenticationStore(config, { log });
    opened.push(['store', store]);

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
        session,
        locator: loaded.locator,
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
          `plugin "${entry.name}": its method instance has members portcullis does not call (a misspelled hook?); the hooks are routes, schemes, authenticate, admit, endSession, findClientToken, identity, close`,
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
      scrubError: (error) => scrubber.scrubError(error),
      close() {
        closing ??= closeAll(opened, log).then(() => log.flush());
        return closing;
      },
    };
  } catch (error) {
    await closeAll(opened, log);
    // A plugin or a library may have put a resolved value in its message (a secret used as a path).
    throw scrubber.scrubError(error);
  }
}
