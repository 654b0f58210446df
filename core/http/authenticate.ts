import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { AuthenticationOutcome } from '../auth/pipeline.ts';
import { Reasons, refusalReason } from '../auth/reasons.ts';
import { isThenable, type MaybePromise } from '../maybe-promise.ts';
import { actorOf, requestIp } from '../observe/client.ts';
import type { Authentication } from '../plugins/contracts.ts';
import type { Runtime } from '../runtime.ts';
import { readCookie, TOKEN_COOKIE } from './cookies.ts';
import { DecisionLog, loggedMs, type Refusal } from './decision-log.ts';
import {
  errorResponse,
  GrpcCode,
  type GrpcCodeValue,
  pathOf,
  sendError,
  UNAUTHENTICATED_MESSAGE,
} from './errors.ts';

/**
 * Flipt's 401. On the `/auth/v1` API, a request that sent a (stale) `flipt_client_token` cookie also gets both
 * cookies cleared, so that a browser stops sending it.
 */
export function unauthenticated(runtime: Runtime, request: FastifyRequest, reply: FastifyReply) {
  if (request.url.startsWith('/auth/v1') && readCookie(request.headers.cookie, TOKEN_COOKIE) !== undefined) {
    runtime.session.clearCookies(reply);
  }
  return sendError(reply, GrpcCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
}

/** What authenticating one request decided. */
export type Decision =
  | { readonly kind: 'authenticated'; readonly authentication: Authentication }
  | { readonly kind: 'unauthenticated'; readonly reason: string; readonly detail: string }
  | { readonly kind: 'error'; readonly code: GrpcCodeValue; readonly message: string };

const decisionLogs = new WeakMap<Runtime, DecisionLog>();

/** The runtime's {@link DecisionLog}: one per runtime, whichever of the hook, forward-auth or the websocket proxy decided. */
export function decisionLog(runtime: Runtime): DecisionLog {
  let log = decisionLogs.get(runtime);
  if (log === undefined) {
    log = new DecisionLog(runtime.log);
    decisionLogs.set(runtime, log);
  }
  return log;
}

/** The client's address, worked out only when a refusal's audit event needs it. */
export type ClientIp = () => string | undefined;

/**
 * Logs a refusal (see {@link DecisionLog}) and records it as an `authentication:refused` audit event at the same
 * rate: past the decision log's per-second budget an event is only counted (`rate_limited`), so that a flood of bad
 * requests is not a flood of events either. `ip` gives the client's address, asked only for an event.
 */
function refused(runtime: Runtime, refusal: Refusal, ip: ClientIp | undefined): void {
  const within = decisionLog(runtime).refused(refusal);
  const audit = runtime.audit;
  if (!audit.wants('authentication', 'refused')) return;
  if (!within) {
    audit.rateLimited(1);
    return;
  }
  audit.record({
    type: 'authentication',
    action: 'refused',
    status: 'denied',
    actor: actorOf(undefined, ip?.()),
    payload: {
      reason: refusal.reason,
      via: refusal.via,
      path: refusal.path,
      status: refusal.outcome === 'forbidden' ? 403 : 401,
    },
  });
}

/**
 * Authenticates a request by its headers through the pipeline, and logs the decision in one line (never the
 * credential; only the path of `url`, a query string may hold one; refusals past a rate only counted, see
 * {@link DecisionLog}). Shared by the hook, forward-auth, the gRPC services and the websocket proxy. The decision
 * comes at once when the pipeline answered at once (a static token), else as a promise.
 */
export function decide(
  runtime: Runtime,
  headers: IncomingHttpHeaders,
  url: string,
  ip?: ClientIp,
): MaybePromise<Decision> {
  const started = performance.now();
  let outcome: ReturnType<Runtime['pipeline']['authenticate']>;
  try {
    const { authorization } = headers;
    outcome = runtime.pipeline.authenticate({
      authorization,
      // Consulted only without an `Authorization` header, so read only then.
      cookieToken: authorization === undefined ? readCookie(headers.cookie, TOKEN_COOKIE) : undefined,
    });
  } catch (error) {
    return failed(runtime, error, started, url);
  }
  // The pipeline answers its own outcome objects, or a native promise of one: no foreign thenable to read safely.
  if (!(outcome instanceof Promise)) return decided(runtime, outcome, started, url, ip);
  return outcome.then(
    (settled) => decided(runtime, settled, started, url, ip),
    (error: unknown) => failed(runtime, error, started, url),
  );
}

/** A pipeline that threw (a store that cannot be reached): Flipt's error answer, logged at error. */
function failed(runtime: Runtime, error: unknown, started: number, url: string): Decision {
  const response = errorResponse(error);
  const reason = refusalReason(error, Reasons.DECISION_FAILED);
  runtime.metrics.decision('error', 'none', reason, performance.now() - started);
  runtime.log.error(
    { outcome: 'error', reason, detail: response.message, err: error, path: pathOf(url) },
    'authentication decision',
  );
  return { kind: 'error', code: response.code, message: response.message };
}

/** The pipeline's outcome as a decision: counted, and logged (an admitted request only at debug). */
function decided(
  runtime: Runtime,
  outcome: AuthenticationOutcome,
  started: number,
  url: string,
  ip: ClientIp | undefined,
): Decision {
  const elapsedMs = performance.now() - started;
  runtime.metrics.decision(
    outcome.ok ? 'authenticated' : 'unauthenticated',
    outcome.ok ? outcome.authentication.method : 'none',
    outcome.ok ? '' : outcome.reason,
    elapsedMs,
  );
  if (outcome.ok) {
    // Most requests succeed; their line is a debug one, not even built unless debug is on.
    if (runtime.log.isLevelEnabled('debug')) {
      runtime.log.debug(
        {
          method: outcome.authentication.method,
          outcome: 'authenticated',
          via: outcome.via,
          durationMs: loggedMs(elapsedMs),
          path: pathOf(url),
        },
        'authentication decision',
      );
    }
    return { kind: 'authenticated', authentication: outcome.authentication };
  }
  const { reason, detail, via } = outcome;
  // The time as measured: the decision log rounds it where it writes a line (most refusals of a flood get none).
  refused(runtime, { reason, detail, via, durationMs: elapsedMs, path: pathOf(url) }, ip);
  return { kind: 'unauthenticated', reason, detail };
}

/**
 * Logs, as a decision (`forbidden`, `csrf_refused`, with Go's message as the detail), a request that the
 * cross-origin check refused: by the hook, forward-auth or the websocket proxy.
 */
export function crossOriginRefused(runtime: Runtime, url: string, message: string, ip?: ClientIp): void {
  runtime.metrics.decision('forbidden', 'none', Reasons.CSRF_REFUSED);
  refused(
    runtime,
    {
      outcome: 'forbidden',
      reason: Reasons.CSRF_REFUSED,
      detail: message,
      via: 'csrf',
      path: pathOf(url),
    },
    ip,
  );
}

/**
 * Logs a request to a route that needs a caller while `authentication.required` is false: nothing is
 * authenticated then (as in Flipt), so the route answers 401 without asking the pipeline.
 */
export function notRequiredRefused(runtime: Runtime, url: string, ip?: ClientIp): void {
  runtime.metrics.decision('unauthenticated', 'none', Reasons.AUTHENTICATION_NOT_REQUIRED);
  refused(
    runtime,
    {
      reason: Reasons.AUTHENTICATION_NOT_REQUIRED,
      detail: 'authentication.required is false, so no request is authenticated',
      via: 'none',
      path: pathOf(url),
    },
    ip,
  );
}

/**
 * Whether a browser is asking for a page (rather than a script for data), and may be sent to a login page:
 * `Accept` names `text/html` and there is no `Authorization` header (a client that sends its credential in a header
 * is a program, and a refused one must get Flipt's 401, not a login page).
 */
export function wantsPage(headers: IncomingHttpHeaders): boolean {
  return headers.authorization === undefined && acceptsHtml(headers.accept ?? '');
}

/**
 * Whether an `Accept` header lists `text/html` as acceptable: media types compare without regard to case, and a
 * range with `q=0` is "not acceptable" (RFC 9110 §12.5.1, §12.4.2); `*\/*` alone is what scripts send, not a page.
 */
function acceptsHtml(accept: string): boolean {
  for (const range of accept.split(',')) {
    const [type = '', ...parameters] = range.split(';');
    if (type.trim().toLowerCase() !== 'text/html') continue;
    const weight = parameters
      .map((parameter) => parameter.trim())
      .find((parameter) => /^q=/i.test(parameter));
    if (weight === undefined || Number(weight.slice(2)) > 0) return true;
  }
  return false;
}

/**
 * Where a browser asking for `url` with `method` and no valid session is sent to log in (the web UI's login page,
 * with a `return_to`); given to the hook and forward-auth when the UI runs. `gateway.login_url` wins over it.
 */
export type LoginPage = (request: FastifyRequest, url: string, method: string) => string;

/**
 * The `onRequest` hook that authenticates every request that needs it, as Flipt's interceptors do: nothing at
 * all when `authentication.required` is false; public routes (`config.authenticate: false`), unknown routes and
 * excluded sections are skipped, their credentials ignored; otherwise a request without a valid credential gets
 * Flipt's 401, or, with `gateway.login_url` or the web UI's `loginPage`, a browser asking for a page outside
 * `/auth/v1` and `/auth/ui` is sent there.
 */
export function createAuthenticationHook(
  runtime: Runtime,
  isExcluded: (url: string) => boolean,
  loginPage?: LoginPage,
) {
  const { required } = runtime.config.authentication;
  const { login_url: loginUrl, trusted_proxies: trustedProxies } = runtime.config.gateway;
  /** What the hook does with a decision; a refusal is answered here, and the chain goes no further. */
  const apply = (
    decision: Decision,
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void => {
    if (decision.kind === 'authenticated') {
      request.authentication = decision.authentication;
      done();
      return;
    }
    if (decision.kind === 'error') return void sendError(reply, decision.code, decision.message);
    if (wantsPage(request.headers) && !/^\/auth\/(v1|ui)(\/|$|\?)/.test(request.url)) {
      const location = loginUrl ?? loginPage?.(request, request.url, request.method);
      if (location !== undefined) return void reply.code(302).header('location', location).send();
    }
    unauthenticated(runtime, request, reply);
  };
  // A callback hook rather than an async one: a decision made at once (a static token) goes on at once, without
  // the promise and microtask turn an async hook costs every request.
  return function authenticate(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    // Node checks a request's `Transfer-Encoding` after it has handed the request over, in the same turn: an invalid
    // one is its 400 (client-errors.ts) only if nothing has answered the request by then. So a request with one
    // goes on a turn later, and a malformed request is never answered as if it were a good one (a desync).
    if (request.headers['transfer-encoding'] !== undefined) {
      queueMicrotask(() => judge(request, reply, done));
    } else judge(request, reply, done);
  };

  function judge(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (
      !required ||
      request.routeOptions.config.authenticate === false ||
      request.is404 ||
      isExcluded(request.url)
    ) {
      done();
      return;
    }
    const decision = decide(runtime, request.headers, request.url, () => requestIp(request, trustedProxies));
    if (!isThenable(decision)) {
      apply(decision, request, reply, done);
      return;
    }
    // What an async hook's rejection would be: Fastify's error handling, not an unhandled rejection.
    decision.then((settled) => {
      try {
        apply(settled, request, reply, done);
      } catch (error) {
        done(error as Error);
      }
    }, done);
  }
}
