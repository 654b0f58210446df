import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { wantsPage } from '../core/http/authenticate.ts';
import { clearReturnToCookie, readReturnToCookie } from '../core/http/cookies.ts';
import { errorHandler, errorResponse, GrpcCode, pathOf, sendError } from '../core/http/errors.ts';
import { forwardedPrefix } from '../core/http/forwarded.ts';
import { DEFAULT_RETURN_TO, safeReturnTo } from '../core/http/return-to.ts';
import type { Runtime } from '../core/runtime.ts';
import { loginLocation, pageContext, sendNotice } from './context.ts';
import { securityHeaders } from './page-headers.ts';
import { backToLogin, loginPages, loginProblem } from './pages/login.ts';
import { sessionPages } from './pages/session.ts';
import { tokenPages } from './pages/tokens.ts';
import { assets } from './render.ts';

/** Bytes a form post may have: the token form's fields are bounded by the API well below this. */
const FORM_BODY_LIMIT = 16 * 1024;

/**
 * Where a browser without a session is sent to log in, to come back to `url` (the target it asked for) after:
 * `<prefix>/auth/ui/login?return_to=<prefix><url>` — only for a GET or HEAD; any other request comes back to the
 * session page (a form cannot be replayed after a login).
 */
export function loginPageFor(request: FastifyRequest, url: string, method: string): string {
  const prefix = forwardedPrefix(request.headers['x-forwarded-prefix']);
  const replayable = method === 'GET' || method === 'HEAD';
  return loginLocation(`${prefix}/auth/ui`, replayable ? `${prefix}${url}` : undefined);
}

/**
 * An `onSend` hook: a login started from the web UI (its `return_to` cookie present) that a method's route refuses
 * while the browser navigates (`GET`, `Accept: text/html`: the provider's redirect to the callback) comes back to
 * the login page with the reason, instead of the API's JSON, which is what any other client still gets.
 */
export function loginRefusalsToPage(runtime: Runtime) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (
      reply.statusCode < 400 ||
      request.method !== 'GET' ||
      !request.url.startsWith('/auth/v1/method/') ||
      !wantsPage(request.headers)
    ) {
      return payload;
    }
    const returnTo = readReturnToCookie(request);
    if (returnTo === undefined) return payload;
    let message: string | undefined;
    try {
      message = (JSON.parse(String(payload)) as { message?: string }).message;
    } catch {
      message = undefined;
    }
    const prefix = forwardedPrefix(request.headers['x-forwarded-prefix']);
    const base = `${prefix}/auth/ui`;
    const session = runtime.config.authentication.session;
    clearReturnToCookie(reply, session);
    const problem = loginProblem(reply.statusCode, message);
    reply.removeHeader('www-authenticate');
    reply.removeHeader('content-type');
    securityHeaders(reply);
    const to = safeReturnTo(returnTo, `${prefix}${DEFAULT_RETURN_TO}`);
    backToLogin(reply, { base, secure: session.secure }, to, problem);
    return '';
  };
}

/**
 * The web UI under `/auth/ui/`: the login page, the session page, token management, and their assets. Every page
 * is server-rendered and reaches the `/auth/v1` API in process, with the browser's own credential. Register with
 * `prefix: '/auth/ui'`; `app` is the application whose API the pages call.
 */
export function webUi(runtime: Runtime, app: FastifyInstance) {
  return async function registerWebUi(scope: FastifyInstance): Promise<void> {
    // The pages decide who is calling through the API; the authentication hook leaves them alone.
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), authenticate: false };
    });
    // Redirects and refusals too, not only the pages.
    scope.addHook('onSend', async (_request, reply, payload) => {
      securityHeaders(reply);
      return payload;
    });
    // A browser's answers are pages, errors included (a body too large, a path that is not one); anything else gets
    // Flipt's JSON, as from the API.
    const json = errorHandler(runtime.log);
    scope.setErrorHandler((error, request, reply) => {
      if (!wantsPage(request.headers)) return json(error, request, reply);
      const response = errorResponse(error);
      if (response.internal) runtime.log.error({ err: error, path: pathOf(request.url) }, 'request failed');
      const notice = { title: 'Error', heading: 'Something went wrong', text: response.message };
      return sendNotice(pageContext(app, runtime, request), request, reply, notice, {
        status: response.status,
      });
    });
    scope.setNotFoundHandler((request, reply) => {
      if (!wantsPage(request.headers)) return sendError(reply, GrpcCode.NOT_FOUND, 'Not Found');
      const notice = { title: 'Not found', heading: 'There is no such page', text: 'Nothing is here.' };
      return sendNotice(pageContext(app, runtime, request), request, reply, notice, { status: 404 });
    });
    // Forms only: the pages post nothing else (JSON is the API's, at /auth/v1).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );

    scope.get('/assets/:name', async (request, reply) => {
      const { name } = request.params as { name: string };
      const asset = assets.get(name);
      if (asset === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found');
      const { v } = request.query as { v?: unknown };
      return reply
        .header('content-type', asset.contentType)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', v === asset.version ? 'public, max-age=31536000, immutable' : 'no-cache')
        .send(asset.body);
    });

    await scope.register(loginPages(runtime, app));
    await scope.register(sessionPages(runtime, app));
    await scope.register(tokenPages(runtime, app));
  };
}
