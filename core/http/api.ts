import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticationJson } from '../auth/json.ts';
import { authService } from '../auth/service.ts';
import { timestampField } from '../auth/timestamp.ts';
import { ErrorCodes, PluginError, PortcullisError } from '../errors.ts';
import { requestClient } from '../observe/client.ts';
import { loginFailed, settleLogin } from '../observe/logins.ts';
import { tokenCreatedHook } from '../observe/token-events.ts';
import type { Authentication } from '../plugins/contracts.ts';
import { guard } from '../plugins/guard.ts';
import type { Runtime } from '../runtime.ts';
import { notRequiredRefused, unauthenticated } from './authenticate.ts';
import { skipAbandoned } from './connections.ts';
import { errorHandler, GrpcCode, sendError } from './errors.ts';
import { forwardedPrefix } from './forwarded.ts';
import { parseJsonBody } from './json-body.ts';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/**
 * Registers `path` for the given methods; the others answer 501 "Method Not Allowed" as grpc-gateway does,
 * before authentication.
 */
function route(scope: FastifyInstance, path: string, handlers: Partial<Record<HttpMethod, Handler>>): void {
  // Flipt strips a trailing slash before routing; an application embedding portcullis may not have told Fastify to.
  const trailing = (scope.initialConfig as { routerOptions?: { ignoreTrailingSlash?: boolean } })
    .routerOptions?.ignoreTrailingSlash;
  for (const url of trailing ? [path] : [path, `${path}/`]) {
    for (const method of HTTP_METHODS) {
      const handler = handlers[method];
      scope.route({
        method,
        url,
        // No automatic HEAD: grpc-gateway answers it like any other method it does not know.
        ...(method === 'GET' && { exposeHeadRoute: false }),
        ...(handler === undefined && { config: { authenticate: false } }),
        handler:
          handler ?? ((_request, reply) => sendError(reply, GrpcCode.UNIMPLEMENTED, 'Method Not Allowed')),
      });
    }
  }
}

/** A query parameter given once (a repeated one is refused, as grpc-gateway refuses a repeated scalar). */
function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) {
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, `invalid value for ${name}: given more than once`);
  }
  return value === undefined ? undefined : String(value);
}

/**
 * The `expiresAt` of `PUT /self/expire`, from the query (grpc-gateway) or the body, by its JSON or proto name;
 * `undefined` when none is given or it is `null` (Flipt then expires now). A value that is not a timestamp is a 400
 * (grpc-gateway refuses what Go's `time.Parse` refuses) rather than an expiry now or on a rolled-over date.
 */
function readExpiry(request: FastifyRequest): Date | undefined {
  const query = request.query as Record<string, unknown>;
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<
    string,
    unknown
  >;
  for (const name of ['expiresAt', 'expires_at']) {
    if (!Object.hasOwn(query, name)) continue;
    const value = single(query, name);
    // grpc-gateway reads the word null in a query as an unset timestamp.
    return timestampField(name, value === 'null' ? null : value);
  }
  for (const name of ['expiresAt', 'expires_at']) {
    if (Object.hasOwn(body, name)) return timestampField(name, body[name]);
  }
  return undefined;
}

function wantsPretty(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  return (query !== undefined && 'pretty' in query) || request.headers.accept === 'application/json+pretty';
}

function readLimit(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,9}$/.test(String(raw))) {
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, `invalid value "${String(raw)}" for limit`);
  }
  return Number(raw);
}

/**
 * The `/auth/v1` API (Flipt's `PublicAuthenticationService` and `AuthenticationService`), plus each running
 * method's routes under `/auth/v1/method/<name>`. Register it under the prefix `/auth/v1`.
 */
export function authApi(runtime: Runtime) {
  return async function registerAuthApi(scope: FastifyInstance): Promise<void> {
    const service = authService(runtime);
    const { enabled, sessionEnabled } = service;

    scope.setErrorHandler(errorHandler(runtime.log));
    scope.setNotFoundHandler((_request, reply) => sendError(reply, GrpcCode.NOT_FOUND, 'Not Found'));
    // Nothing is created, expired or deleted for a client that is gone or whose message broke off.
    scope.addHook('preHandler', skipAbandoned);
    // grpc-gateway reads an empty JSON body as an empty message; clients (Flipt's UI among them) send
    // `content-type: application/json` on DELETE and PUT without one.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseJsonBody(String(body)));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
    scope.addHook('onSend', async (request, reply, payload) => {
      if (typeof payload !== 'string' || !wantsPretty(request)) return payload;
      if (!String(reply.getHeader('content-type')).startsWith('application/json')) return payload;
      return `${JSON.stringify(JSON.parse(payload), null, 2)}\n`;
    });

    scope.route({
      method: 'GET',
      url: '/method',
      config: { authenticate: false },
      handler: (request) =>
        service.listMethods(sessionEnabled ? forwardedPrefix(request.headers['x-forwarded-prefix']) : ''),
    });

    // Without any method and with authentication not required, Flipt registers only the public service.
    const unimplemented: Handler = async (_request, reply) =>
      sendError(reply, GrpcCode.UNIMPLEMENTED, 'unknown service flipt.auth.AuthenticationService');
    const open = (handler: Handler): Handler => (enabled ? handler : unimplemented);
    /** Who asked, for the audit events the service records. */
    const client = (request: FastifyRequest) =>
      requestClient(request, runtime.config.gateway.trusted_proxies);
    const authenticated = (
      handler: (request: FastifyRequest, who: Authentication) => Promise<unknown>,
    ): Handler =>
      open(async (request, reply) => {
        if (request.authentication !== undefined) return handler(request, request.authentication);
        // With authentication required, the hook has refused such a request already.
        notRequiredRefused(runtime, request.url, () => client(request).ip);
        return unauthenticated(runtime, request, reply);
      });
    // Flipt's HTTP middleware expires both session cookies before handling these two, whatever the outcome.
    const clearingCookies =
      (handler: Handler): Handler =>
      (request, reply) => {
        runtime.session.clearCookies(reply);
        return handler(request, reply);
      };

    route(scope, '/self', { GET: authenticated(async (_request, who) => authenticationJson(who)) });

    route(scope, '/self/expire', {
      PUT: clearingCookies(
        authenticated(async (request, who) => {
          await service.expireSelf(who, readExpiry(request), client(request));
          return {};
        }),
      ),
    });

    route(scope, '/self/revoke', {
      DELETE: clearingCookies(
        authenticated(async (request, who) => service.revokeSelf(who, client(request))),
      ),
    });

    route(scope, '/tokens', {
      GET: open(async (request) => {
        const query = request.query as Record<string, unknown>;
        const method = single(query, 'method');
        const limit = readLimit(single(query, 'limit'));
        const pageToken = single(query, 'pageToken');
        const page = await service.listAuthentications({
          ...(method !== undefined && { method }),
          ...(limit !== undefined && { limit }),
          ...(pageToken !== undefined && { pageToken }),
        });
        return {
          authentications: page.authentications.map(authenticationJson),
          nextPageToken: page.nextPageToken,
        };
      }),
    });

    route(scope, '/tokens/:id', {
      GET: open(async (request) => {
        const { id } = request.params as { id: string };
        return authenticationJson(await service.getAuthentication(id));
      }),
      DELETE: open(async (request) => {
        const { id } = request.params as { id: string };
        await service.deleteAuthentication(id, client(request));
        return {};
      }),
    });

    for (const method of runtime.methods.values()) {
      const { routes } = method.instance;
      if (routes === undefined) continue;
      await scope.register(
        async (methodScope) => {
          // Fastify matches paths as sent: `/auth/v1/method/x/../../y` would be reachable by a client that does not
          // normalise, and read as outside the method's prefix by anything that does (a proxy, an exclusion).
          methodScope.addHook('onRoute', (route) => {
            const prefix = `/auth/v1/method/${method.name}`;
            const path = route.url.slice(prefix.length);
            // `app.get('x')` would mount /auth/v1/method/<name>x, another method's ground.
            const outside = !route.url.startsWith(prefix) || (path !== '' && !path.startsWith('/'));
            if (outside || /(^|\/)\.{1,2}(\/|$)/.test(path) || path.includes('//')) {
              throw new PluginError(
                ErrorCodes.PLUGIN_INVALID,
                `plugin "${method.name}" mounts the route ${JSON.stringify(route.url)}, ${outside ? 'outside its prefix' : 'whose path has empty, "." or ".." segments'}; routes stay under ${prefix}/`,
                { plugin: method.name },
              );
            }
          });
          // A login callback's outcome is known once its route has answered (see observedSession); a token created
          // through Flipt's CreateToken route is recorded then too (tokenCreatedHook).
          methodScope.addHook('onError', async (request, _reply, error) => loginFailed(request, error));
          methodScope.addHook('onResponse', async (request, reply) => settleLogin(request, reply.statusCode));
          if (method.plugin.method === 'METHOD_TOKEN' && runtime.audit.wants('token', 'created')) {
            const path = `/auth/v1/method/${method.name}`;
            methodScope.addHook(
              'onSend',
              tokenCreatedHook(path, runtime.audit, runtime.config.gateway.trusted_proxies),
            );
          }
          await guard(method.name, 'routes', () => routes.call(method.instance, methodScope));
        },
        { prefix: `/method/${method.name}` },
      );
    }
  };
}
