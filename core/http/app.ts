import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Logger } from '../log.ts';
import { answerClientError, answerOutsideRoutes, hostProblem } from './client-errors.ts';
import { errorHandler, GrpcCode, sendError } from './errors.ts';

/**
 * Node refuses requests whose headers exceed 16 KiB with a bare 431 before any handler runs. Credentials can be
 * long (a JWT with many claims), and an over-long one must get Flipt's 401, so the limit is raised to 96 KiB.
 */
const MAX_HEADER_BYTES = 96 * 1024;

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;

/** Fastify's own dependencies, as Fastify itself resolves them. */
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));

/**
 * Fastify's default validator and serializer compilers (@fastify/ajv-compiler, @fastify/fast-json-stringify-compiler),
 * made when a route with a schema first needs one rather than by `Fastify()`, which loads ajv and fast-json-stringify
 * (some 110 modules, 35-60 ms of a start-up) for them. No route of portcullis's has a schema; a third-party method's
 * may, and then gets exactly what Fastify would have made: the same factories, called once each, with the same
 * arguments.
 */
function lazyCompilers(): CompilersFactory {
  type Factory = (...args: unknown[]) => unknown;
  /** A factory that makes Fastify's default one (`selector()`) on its first call, then passes every call to it. */
  const deferred = (module: string): Factory => {
    let made: Factory | undefined;
    return (...args) => {
      made ??= (fromFastify(module) as () => Factory)();
      return made(...args);
    };
  };
  return {
    buildValidator: deferred('@fastify/ajv-compiler'),
    buildSerializer: deferred('@fastify/fast-json-stringify-compiler'),
  } as CompilersFactory;
}

/**
 * Given factories of its own, Fastify takes the validator for a custom one (Joi, TypeBox) and stops lower-casing the
 * keys of `headers` schemas; these are its own, so the mark is taken off again (on the root context, before any
 * other is made: they copy it). Fastify has no option for this, hence its symbol.
 */
function markCompilersDefault(app: FastifyInstance): void {
  let kSchemaController: symbol | undefined;
  try {
    ({ kSchemaController } = fromFastify('./lib/symbols.js') as { kSchemaController?: symbol });
  } catch {
    // A Fastify that moved it: only a third-party route's `headers` schema would be read as written (app.test.ts).
    return;
  }
  const controller =
    kSchemaController === undefined
      ? undefined
      : (app as unknown as Record<symbol, { isCustomValidatorCompiler?: boolean } | undefined>)[
          kSchemaController
        ];
  if (controller?.isCustomValidatorCompiler === true) controller.isCustomValidatorCompiler = false;
}

/** What the HTTP application needs to be built. */
export interface AppOptions {
  readonly log: Logger;
  /** Whether the authentication store is reachable, for `/health`. */
  readonly storeReady?: () => boolean;
  /**
   * The HTTP server belongs to the caller (`startServer`), which passes each request to the app's handler and
   * forwards its other events: receives the handler and returns the object the app's own listeners go on.
   */
  readonly serverFactory: (handler: (request: IncomingMessage, response: ServerResponse) => void) => Server;
  /** Whether the caller's server is shutting down: requests then get Flipt's 503 and their connection closes. */
  readonly shuttingDown: () => boolean;
}

/**
 * Node's options for the HTTP server: headers up to 96 KiB, `Host` checked by the app rather than Node, and an
 * upgrade only for HTTP/1.1 requests that something listens for (`hasUpgradeListener`).
 */
export function httpServerOptions(hasUpgradeListener: (server: Server) => boolean) {
  // Node's own answer to an HTTP/1.1 request without `Host` is a bare 400; the app's hook answers it instead.
  // RFC 9110 §7.8: `Upgrade` in an HTTP/1.0 request is ignored; such a request is served as any other, never
  // switched (Node would hand it to the upgrade listener).
  return {
    maxHeaderSize: MAX_HEADER_BYTES,
    requireHostHeader: false,
    shouldUpgradeCallback(this: Server, request: IncomingMessage) {
      const atLeast11 = request.httpVersionMajor > 1 || request.httpVersionMinor >= 1;
      return atLeast11 && hasUpgradeListener(this);
    },
  };
}

/**
 * The Fastify application: `/health`, and errors in Flipt's shape, those answered before any route included
 * (malformed requests, `CONNECT`, a missing `Host`, a server shutting down). Request logging is off;
 * authentication decisions are logged one line each where they are made.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.log,
    logController: new LogController({ disableRequestLogging: true }),
    // A pino child per request costs more than authenticating it; the few request-bound lines carry the id themselves.
    childLoggerFactory: (logger) => logger,
    // Errors Fastify raises before routing (a malformed URL) get Flipt's shape too.
    frameworkErrors: errorHandler(options.log),
    clientErrorHandler: answerClientError,
    // Fastify's 503 while closing has its own shape; the hook below answers it in Flipt's.
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true },
    schemaController: { compilersFactory: lazyCompilers() },
    serverFactory: options.serverFactory,
  }) as unknown as FastifyInstance;
  markCompilersDefault(app);
  answerOutsideRoutes(app.server);

  app.addHook('onRequest', (request, reply, next) => {
    // Both answers close the connection (Node then sends `Connection: close`), and requests pipelined after them
    // are not processed (trackConnections): set now, before Node emits the next one.
    if (options.shuttingDown()) {
      // As Fastify does: a request that arrives on a kept-alive connection while the server drains is refused.
      reply.raw.shouldKeepAlive = false;
      return sendError(reply, GrpcCode.UNAVAILABLE, 'the server is shutting down');
    }
    // RFC 9112 §3.2: a server responds 400 to an HTTP/1.1 request without `Host`, and to one with more than one.
    const problem = hostProblem(request.raw);
    if (problem !== undefined) {
      reply.raw.shouldKeepAlive = false;
      return sendError(reply, GrpcCode.INVALID_ARGUMENT, problem);
    }
    next();
  });

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
