import type { FastifyInstance } from 'fastify';
import type { RootConfig } from './config/types.ts';
import { ErrorCodes, errorMessage, PortcullisError } from './errors.ts';
import { MAX_NAMED_FILE_BYTES, readFileLimited } from './fs/read-limited.ts';
import { buildApp } from './http/app.ts';
import { portcullis } from './http/plugin.ts';
import { createRuntime, type Runtime, type RuntimeOptions } from './runtime.ts';

/** A running `portcullis serve`. */
export interface Server {
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  /** `http://host:port` (or `https://`) the server listens on. */
  readonly address: string;
  /** Stops accepting connections, finishes in-flight requests, then closes the runtime. */
  close(): Promise<void>;
}

async function tlsMaterial(config: RootConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (config.server.protocol !== 'https') return undefined;
  try {
    return {
      cert: await readFileLimited(config.server.cert_file as string, MAX_NAMED_FILE_BYTES),
      key: await readFileLimited(config.server.cert_key as string, MAX_NAMED_FILE_BYTES),
    };
  } catch (error) {
    throw new PortcullisError(
      ErrorCodes.SERVER_START,
      `reading TLS certificate and key: ${errorMessage(error)}`,
    );
  }
}

/**
 * `portcullis serve`: creates the runtime and serves it, with `/health`, on `server.host` and the port of
 * `server.protocol`. Any failure undoes what was started and rejects with a coded error.
 */
export async function startServer(options: RuntimeOptions = {}): Promise<Server> {
  const runtime = await createRuntime(options);
  let app: FastifyInstance | undefined;
  try {
    const { config, log } = runtime;
    const https = await tlsMaterial(config);
    app = buildApp({ log, storeReady: () => runtime.store.ready?.() ?? true, ...(https && { https }) });
    await app.register(portcullis, { runtime });
    const port = https === undefined ? config.server.http_port : config.server.https_port;
    const address = await app.listen({ host: config.server.host, port }).catch((error: unknown) => {
      throw new PortcullisError(
        ErrorCodes.SERVER_START,
        `listening on ${config.server.host}:${port}: ${errorMessage(error)}`,
      );
    });
    log.info({ address, methods: [...runtime.methods.keys()] }, 'portcullis is listening');

    const started = app;
    let closing: Promise<void> | undefined;
    return {
      runtime,
      app: started,
      address,
      close() {
        closing ??= started.close().then(() => runtime.close());
        return closing;
      },
    };
  } catch (error) {
    await app?.close();
    await runtime.close();
    throw runtime.scrubError(error);
  }
}
