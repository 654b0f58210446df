import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../log.ts';
import { errorHandler, GrpcCode, sendError } from './errors.ts';

/**
 * Node refuses requests whose headers exceed 16 KiB with a bare 431 before any handler runs. Credentials can be
 * long (a JWT with many claims), and an over-long one must get Flipt's 401, so the limit is raised to 96 KiB.
 */
const MAX_HEADER_BYTES = 96 * 1024;

/** What the HTTP application needs to be built. */
export interface AppOptions {
  readonly log: Logger;
  /** TLS material when `server.protocol` is `https`. */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
  /** Whether the authentication store is reachable, for `/health`. */
  readonly storeReady?: () => boolean;
}

/**
 * The Fastify application: `/health`, and errors in Flipt's shape. Request logging is off; authentication
 * decisions are logged one line each where they are made.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.log,
    logController: new LogController({ disableRequestLogging: true }),
    // A pino child per request costs more than authenticating it; the few request-bound lines carry the id themselves.
    childLoggerFactory: (logger) => logger,
    // Errors Fastify raises before routing (a malformed URL) get Flipt's shape too.
    frameworkErrors: errorHandler(options.log),
    routerOptions: { ignoreTrailingSlash: true },
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    ...(options.https === undefined ? {} : { https: { ...options.https, maxHeaderSize: MAX_HEADER_BYTES } }),
  }) as unknown as FastifyInstance;

  // Liveness: 200 while the process serves. The store's state is reported, but an unreachable store does not fail
  // the probe (restarting every instance would not bring Redis back).
  app.get('/health', { config: { authenticate: false, csrf: false } }, async () => ({
    status: 'SERVING',
    store: options.storeReady === undefined || options.storeReady() ? 'ready' : 'unavailable',
  }));

  app.setNotFoundHandler((_request, reply) => sendError(reply, GrpcCode.NOT_FOUND, 'Not Found'));
  app.setErrorHandler(errorHandler(options.log));
  return app;
}
