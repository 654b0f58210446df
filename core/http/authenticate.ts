import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../runtime.ts';
import { readCookie, TOKEN_COOKIE } from './cookies.ts';
import { errorResponse, GrpcCode, pathOf, sendError } from './errors.ts';

/**
 * The `onRequest` hook that authenticates every request that needs it, as Flipt's interceptors do: nothing at
 * all when `authentication.required` is false; public routes (`config.authenticate: false`), unknown routes and
 * excluded sections are skipped, their credentials ignored; otherwise a request without a valid credential gets
 * Flipt's 401. One log line per decision.
 */
/**
 * Flipt's 401. On the `/auth/v1` API, a request that sent a (stale) `flipt_client_token` cookie also gets both
 * cookies cleared, so that a browser stops sending it.
 */
export function unauthenticated(runtime: Runtime, request: FastifyRequest, reply: FastifyReply) {
  if (request.url.startsWith('/auth/v1') && readCookie(request.headers.cookie, TOKEN_COOKIE) !== undefined) {
    runtime.session.clearCookies(reply);
  }
  return sendError(reply, GrpcCode.UNAUTHENTICATED, 'request was not authenticated');
}

export function createAuthenticationHook(runtime: Runtime, isExcluded: (url: string) => boolean) {
  const { required } = runtime.config.authentication;
  const log = runtime.log;
  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    if (
      !required ||
      request.routeOptions.config.authenticate === false ||
      request.is404 ||
      isExcluded(request.url)
    ) {
      return;
    }
    const started = performance.now();
    // Only the path: a query string may hold a credential. Headers may be long; a log line per decision must not be.
    const path = pathOf(request.url);
    let outcome: Awaited<ReturnType<Runtime['pipeline']['authenticate']>>;
    try {
      outcome = await runtime.pipeline.authenticate({
        authorization: request.headers.authorization,
        cookieToken: readCookie(request.headers.cookie, TOKEN_COOKIE),
      });
    } catch (error) {
      const response = errorResponse(error);
      log.error({ outcome: 'error', reason: response.message, err: error, path }, 'authentication decision');
      return sendError(reply, response.code, response.message);
    }
    const durationMs = Number((performance.now() - started).toFixed(3));
    if (outcome.ok) {
      request.authentication = outcome.authentication;
      log.debug(
        {
          method: outcome.authentication.method,
          outcome: 'authenticated',
          via: outcome.via,
          durationMs,
          path,
        },
        'authentication decision',
      );
      return;
    }
    log.warn(
      { outcome: 'unauthenticated', reason: outcome.reason, via: outcome.via, durationMs, path },
      'authentication decision',
    );
    return unauthenticated(runtime, request, reply);
  };
}
