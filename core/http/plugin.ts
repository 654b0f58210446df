import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createExclusionMatcher } from '../auth/exclusions.ts';
import { authService } from '../auth/service.ts';
import { requestIp } from '../observe/client.ts';
import { createRuntime, type Runtime, type RuntimeOptions } from '../runtime.ts';
import { authApi } from './api.ts';
import {
  createAuthenticationHook,
  crossOriginRefused,
  decide,
  decisionLog,
  unauthenticated,
} from './authenticate.ts';
import { trackConnections } from './connections.ts';
import { recogniseGrpcCalls } from './cookies.ts';
import { createCsrfHook } from './csrf.ts';
import { GrpcCode, sendError } from './errors.ts';
import { forwardAuth } from './forward-auth.ts';

/**
 * Options of the {@link portcullis} Fastify plugin: a configuration to load (`file`, or `object`, plus `env`,
 * ...), or a runtime created elsewhere (which the application then closes itself).
 */
export interface PortcullisOptions extends RuntimeOptions {
  readonly runtime?: Runtime;
  /**
   * Serve the web UI under `/auth/ui/` (login, session and token pages) when a session-compatible method is
   * enabled, and send browsers without a session there. `portcullis serve` turns it on; an application embedding
   * the plugin chooses (default `false`).
   */
  readonly ui?: boolean;
  /**
   * Serve the Prometheus metrics on `GET /metrics` (text format, no credential needed, as Flipt serves it).
   * `portcullis serve` turns it on; an application embedding the plugin chooses (default `false`: it may have its
   * own `/metrics`; `runtime.metrics.registry` is a prom-client `Registry` to merge into it).
   */
  readonly metrics?: boolean;
}

async function register(app: FastifyInstance, options: PortcullisOptions): Promise<void> {
  const runtime = options.runtime ?? (await createRuntime(options));
  if (options.runtime === undefined) app.addHook('onClose', () => runtime.close());
  app.decorateRequest('authentication', undefined);
  app.addHook('onRequest', recogniseGrpcCalls);

  const { authentication, gateway } = runtime.config;
  const sections = Object.values(gateway.sections).filter((section) => section.exclude);
  const isExcluded = createExclusionMatcher(
    authentication,
    sections.flatMap((section) => section.prefixes),
  );
  // Flipt's cross-origin protection wraps its router, so it runs before authentication.
  const csrf = createCsrfHook(authentication.session, runtime.log, (request, message) =>
    crossOriginRefused(runtime, request.url, message, () => requestIp(request, gateway.trusted_proxies)),
  );
  if (csrf !== undefined) app.addHook('onRequest', csrf);
  // The UI's code (and its templates) loads only where it runs: it needs a session-compatible method (Flipt's
  // rule), as logging in is what it is for.
  const runsUi = options.ui === true && authService(runtime).sessionEnabled;
  const ui = runsUi ? await import('../../ui/index.ts') : undefined;
  if (options.ui === true) {
    if (ui === undefined)
      runtime.log.info("web UI off: no session-compatible method (oidc, github, or a plugin's) is enabled");
    else runtime.log.info({ path: '/auth/ui/' }, 'web UI on');
  }
  app.addHook('onRequest', createAuthenticationHook(runtime, isExcluded, ui?.loginPageFor));
  const servesMetrics = options.metrics === true && runtime.config.metrics.enabled;
  if (servesMetrics) {
    const { require_authentication: requireCredential } = runtime.config.metrics;
    app.all('/metrics', { config: { authenticate: false } }, async (request, reply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return sendError(reply, GrpcCode.UNIMPLEMENTED, 'Method Not Allowed', 405);
      }
      if (requireCredential) {
        const decision = await decide(runtime, request.headers, request.url, () =>
          requestIp(request, gateway.trusted_proxies),
        );
        if (decision.kind === 'error') return sendError(reply, decision.code, decision.message);
        if (decision.kind !== 'authenticated') return unauthenticated(runtime, request, reply);
      }
      const { contentType, body } = await runtime.metrics.exposition();
      return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
    });
  }
  app.addHook('onClose', () => decisionLog(runtime).flush());
  await app.register(
    async (scope) => {
      // Only the API's answers can be a login the web UI started; no other route pays for the check.
      if (ui !== undefined) scope.addHook('onSend', ui.loginRefusalsToPage(runtime));
      await scope.register(authApi(runtime));
    },
    { prefix: '/auth/v1' },
  );
  await app.register(async (scope) => forwardAuth(runtime, isExcluded, ui?.loginPageFor)(scope), {
    prefix: '/auth/v1',
  });
  if (ui !== undefined) await app.register(ui.webUi(runtime, app), { prefix: '/auth/ui' });
  if (gateway.upstream !== undefined) {
    if (!authentication.required) {
      runtime.log.warn(
        'gateway.upstream is set but authentication.required is false: every request reaches the upstream unauthenticated',
      );
    }
    // The proxy's code (and undici) loads only for a gateway: it is most of a start-up otherwise.
    const [{ reverseProxy }, { proxyWebsockets }, { proxyGrpc }] = await Promise.all([
      import('./proxy.ts'),
      import('./websocket-proxy.ts'),
      import('../grpc/upstream-proxy.ts'),
    ]);
    // Each client's address is read as its connection opens (a socket that fails loses it), and answers written
    // on a socket (websocket refusals) wait for those of the requests pipelined before them.
    trackConnections(app.server);
    // `/metrics` stays portcullis's either way: served above, or a 404 rather than the upstream's.
    await app.register(reverseProxy(runtime, { reserveMetrics: !servesMetrics }));
    // An h2c upstream speaks HTTP/2 only: websocket upgrades (HTTP/1.1) cannot go there.
    if (new URL(gateway.upstream).protocol !== 'h2c:') proxyWebsockets(app, runtime, isExcluded);
    proxyGrpc(app, runtime, isExcluded);
  }
}

/**
 * portcullis as a Fastify plugin: every route of the application (not only the `/auth/v1` API it adds) is
 * authenticated as Flipt's configuration says, and a handler finds who is calling in `request.authentication`.
 *
 * ```ts
 * await app.register(portcullis, { file: 'config.yaml' });
 * app.get('/api/v1/flags', async (request) => ({ caller: request.authentication?.id }));
 * ```
 */
export const portcullis = fp(register, { name: 'portcullis', fastify: '5.x' });
