import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../log.ts';
import { GrpcCode, sendError } from './errors.ts';

/** What the HTTP application needs to be built. */
export interface AppOptions {
  readonly log: Logger;
  /** TLS material when `server.protocol` is `https`. */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

/**
 * The Fastify application: `/health`, and errors in Flipt's shape. Request logging is off; authentication
 * decisions are logged one line each where they are made.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.log,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    ...(options.https === undefined ? {} : { https: options.https }),
  }) as unknown as FastifyInstance;

  app.get('/health', async () => ({ status: 'SERVING' }));

  app.setNotFoundHandler((_request, reply) => sendError(reply, GrpcCode.NOT_FOUND, 'Not Found'));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendError(reply, status === 404 ? GrpcCode.NOT_FOUND : GrpcCode.INVALID_ARGUMENT, error.message);
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return sendError(reply, GrpcCode.INTERNAL, 'internal error');
  });
  return app;
}
