import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { type LoadedConfig, type LoadOptions, loadConfig } from './config/load.ts';
import type { RootConfig } from './config/types.ts';
import { ErrorCodes, errorMessage, formatIssue, PortcullisError } from './errors.ts';
import { buildApp } from './http/app.ts';
import { createLogger, type LogDestination, type Logger, SecretScrubber } from './log.ts';
import { createMethodContext } from './plugins/context.ts';
import type { MethodInstance, SecretSource } from './plugins/contracts.ts';
import { guard } from './plugins/guard.ts';
import { resolveSecretReferences } from './references/resolve.ts';

/** How to start portcullis: where the configuration comes from, plus test seams. */
export interface StartOptions extends LoadOptions {
  /** Where logs go instead of `log.file` or standard output (tests). */
  readonly logDestination?: LogDestination;
}

/** A running instance. */
export interface Runtime {
  /** The validated configuration with secret references resolved. Treat as read-only. */
  readonly config: RootConfig;
  readonly app: FastifyInstance;
  /** `http://host:port` (or `https://`) the server listens on. */
  readonly address: string;
  readonly log: Logger;
  /** Stops accepting connections, finishes in-flight requests, then closes methods and secret stores. */
  close(): Promise<void>;
}

async function openSecretSources(loaded: LoadedConfig, log: Logger): Promise<Map<string, SecretSource>> {
  const sources = new Map<string, SecretSource>();
  try {
    for (const entry of loaded.registry.entries('secrets')) {
      const block = loaded.config.secrets.providers[entry.name];
      if (block?.enabled !== true) continue;
      const provider = await loaded.registry.provider(entry.name);
      const context = {
        log: log.child({ plugin: entry.name }),
        fetch: globalThis.fetch,
        now: () => new Date(),
      };
      sources.set(entry.name, await guard(entry.name, 'create', () => provider.create(context, block)));
    }
  } catch (error) {
    await closeAll(sources, log);
    throw error;
  }
  return sources;
}

async function closeAll(closables: ReadonlyMap<string, { close?(): void | Promise<void> }>, log: Logger) {
  for (const [name, closable] of closables) {
    try {
      await guard(name, 'close', () => closable.close?.());
    } catch (error) {
      log.warn({ plugin: name, err: errorMessage(error) }, 'plugin failed to close');
    }
  }
}

async function tlsMaterial(config: RootConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (config.server.protocol !== 'https') return undefined;
  try {
    return {
      cert: await readFile(config.server.cert_file as string),
      key: await readFile(config.server.cert_key as string),
    };
  } catch (error) {
    throw new PortcullisError(
      ErrorCodes.SERVER_START,
      `reading TLS certificate and key: ${errorMessage(error)}`,
    );
  }
}

/**
 * Starts portcullis: loads and validates the configuration, opens the enabled secret stores, resolves every
 * `${secret:...}` (all or nothing), creates the enabled methods, and listens on `server.host` and the port of
 * `server.protocol`. Any failure undoes what was started and rejects with a coded error.
 */
export async function startRuntime(options: StartOptions = {}): Promise<Runtime> {
  const loaded = await loadConfig(options);
  const scrubber = new SecretScrubber();
  const log = createLogger(loaded.config.log, scrubber, options.logDestination);
  for (const warning of loaded.warnings) log.warn(formatIssue(warning));

  const sources = await openSecretSources(loaded, log);
  const methods = new Map<string, MethodInstance>();
  let app: FastifyInstance | undefined;
  try {
    const resolution = await resolveSecretReferences(loaded.config, loaded.references, sources);
    scrubber.add(resolution.values);
    const config = resolution.config;

    for (const entry of loaded.registry.entries('method')) {
      const block = config.authentication.methods[entry.name];
      if (block?.enabled !== true) continue;
      const plugin = await loaded.registry.method(entry.name);
      const context = createMethodContext({ name: entry.name, log, config });
      methods.set(entry.name, await guard(entry.name, 'create', () => plugin.create(context, block)));
    }

    const https = await tlsMaterial(config);
    app = buildApp({ log, ...(https === undefined ? {} : { https }) });
    const port = https === undefined ? config.server.http_port : config.server.https_port;
    const address = await app.listen({ host: config.server.host, port }).catch((error: unknown) => {
      throw new PortcullisError(
        ErrorCodes.SERVER_START,
        `listening on ${config.server.host}:${port}: ${errorMessage(error)}`,
      );
    });
    log.info({ address, methods: [...methods.keys()] }, 'portcullis is listening');

    const started = app;
    let closing: Promise<void> | undefined;
    return {
      config,
      app: started,
      address,
      log,
      close() {
        closing ??= (async () => {
          await started.close();
          await closeAll(methods, log);
          await closeAll(sources, log);
          log.flush();
        })();
        return closing;
      },
    };
  } catch (error) {
    await app?.close();
    await closeAll(methods, log);
    await closeAll(sources, log);
    throw error;
  }
}
