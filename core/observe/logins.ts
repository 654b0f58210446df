import type { FastifyRequest } from 'fastify';
import { Reasons, refusalReason } from '../auth/reasons.ts';
import { REFUSAL_LINES_PER_SECOND } from '../http/decision-log.ts';
import type { Authentication, JsonValue, LoginOptions, SessionHelpers } from '../plugins/contracts.ts';
import type { AuditRecorder } from './audit/record.ts';
import { actorOf, requestIp } from './client.ts';
import type { LoginOutcome } from './metrics.ts';

/** What counts logins: `Metrics.login`. */
export interface LoginCounter {
  login(method: string, provider: string, outcome: LoginOutcome, reason: string): void;
}

/** A login callback under way: the request `stateMatches` was called on. */
interface Attempt {
  readonly method: string;
  readonly trustedProxies: readonly string[];
  readonly provider: string;
  readonly counter: LoginCounter;
  readonly audit: AuditRecorder;
  /** An exchange ({@link SessionHelpers.beginLogin}): succeeded by a successful answer, not by `completeLogin`. */
  readonly exchange: boolean;
  succeeded: boolean;
  error?: unknown;
}

const attempts = new WeakMap<FastifyRequest, Attempt>();

/** A login being started: counted once its route has answered with success (a URL to go to, a redirect). */
interface Start {
  readonly method: string;
  readonly provider: string;
  readonly counter: LoginCounter;
}

const starts = new WeakMap<FastifyRequest, Start>();

/**
 * How many `login:refused` events a second an audit stream gets: as many as refused requests' (the decision log's
 * budget); past it they are counted `rate_limited`, so that forged callbacks, which need no credential, cannot
 * flood the sinks and push other events out of a full buffer.
 */
const LOGIN_REFUSALS_PER_SECOND = REFUSAL_LINES_PER_SECOND;

/** Events allowed in the current second, per audit stream. */
const refusalBudgets = new WeakMap<AuditRecorder, { second: number; left: number }>();

function withinBudget(audit: AuditRecorder): boolean {
  const second = Math.floor(Date.now() / 1000);
  let budget = refusalBudgets.get(audit);
  if (budget === undefined || budget.second !== second) {
    budget = { second, left: LOGIN_REFUSALS_PER_SECOND };
    refusalBudgets.set(audit, budget);
  }
  if (budget.left === 0) return false;
  budget.left -= 1;
  return true;
}

/** A provider label: a configured provider's name as the method gives it, `""` for none. */
function providerOf(options: LoginOptions | undefined): string {
  return typeof options?.provider === 'string' ? options.provider : '';
}

/** The store-side `sub` a method kept for the session, else the metadata's own. */
function subjectOf(
  metadata: Readonly<Record<string, string>>,
  subject: string | undefined,
): string | undefined {
  if (subject !== undefined && subject !== '') return subject;
  const found = Object.entries(metadata).find(([key]) => /^io\.flipt\.auth\.[a-z0-9_]+\.sub$/.test(key));
  return found?.[1];
}

/**
 * The session helpers one method gets (`ctx.session`): the runtime's, with its logins counted by method and
 * provider (`started` by `startLogin`, a callback that called `stateMatches` `succeeded` when `completeLogin`
 * resolved, else `refused` once the route answered — see {@link settleLogin}) and recorded as `login:succeeded` /
 * `login:refused` audit events, and its `recordLogout` recorded as `logout:<kind>`.
 */
export function observedSession(
  session: SessionHelpers,
  method: string,
  counter: LoginCounter,
  audit: AuditRecorder,
  /** `gateway.trusted_proxies`: whose `X-Forwarded-For` names the client (see `clientAddress`). */
  trustedProxies: readonly string[] = [],
): SessionHelpers {
  const clientIp = (request: FastifyRequest) => requestIp(request, trustedProxies);
  /** Marks `request` as a login attempt of this method, once. */
  const attempt = (request: FastifyRequest, options: LoginOptions | undefined, exchange: boolean) => {
    if (attempts.has(request)) return;
    const provider = providerOf(options);
    attempts.set(request, { method, trustedProxies, provider, counter, audit, exchange, succeeded: false });
  };
  return {
    ...session,
    startLogin(request, reply, callbackPath, options) {
      const state = session.startLogin(request, reply, callbackPath, options);
      starts.set(request, { method, provider: providerOf(options), counter });
      return state;
    },
    stateMatches(request, state, options) {
      attempt(request, options, false);
      return session.stateMatches(request, state, options);
    },
    beginLogin(request, options) {
      attempt(request, options, true);
    },
    async completeLogin(request, reply, input) {
      const body = await session.completeLogin(request, reply, input);
      const pending = attempts.get(request);
      if (pending !== undefined) pending.succeeded = true;
      const provider = input.extras?.provider ?? pending?.provider ?? '';
      counter.login(method, provider, 'succeeded', '');
      if (audit.wants('login', 'succeeded')) {
        const authentication = body.authentication as unknown as Authentication;
        const subject = subjectOf(authentication.metadata ?? {}, input.extras?.subject);
        audit.record({
          type: 'login',
          action: 'succeeded',
          status: 'success',
          actor: actorOf(authentication, clientIp(request)),
          payload: {
            method,
            ...(provider !== '' && { provider }),
            ...(subject !== undefined && { subject }),
            id: String(body.authentication.id ?? ''),
          },
        });
      }
      return body;
    },
    recordLogout(request, logout) {
      const type = 'logout';
      if (!audit.wants(type, logout.kind)) return;
      const payload: Record<string, JsonValue> = { method, sessions: logout.sessions };
      if (logout.provider !== undefined) payload.provider = logout.provider;
      audit.record({
        type,
        action: logout.kind,
        status: 'success',
        actor: actorOf(undefined, clientIp(request)),
        payload,
      });
    },
  };
}

/** Keeps what a login callback threw, for its refusal's reason id (a method route's `onError`). */
export function loginFailed(request: FastifyRequest, error: unknown): void {
  const attempt = attempts.get(request);
  if (attempt !== undefined) attempt.error = error;
}

/**
 * Settles a login once its route has answered (a method route's `onResponse`): a start that answered with success
 * (`statusCode` below 400) is counted `started`; a callback that did not reach `completeLogin` is counted `refused`
 * and recorded as `login:refused` (within the refusal rate), with its error's reason id.
 */
export function settleLogin(request: FastifyRequest, statusCode: number): void {
  const start = starts.get(request);
  if (start !== undefined) {
    starts.delete(request);
    if (statusCode < 400) start.counter.login(start.method, start.provider, 'started', '');
  }
  const attempt = attempts.get(request);
  if (attempt === undefined || attempt.succeeded) return;
  attempts.delete(request);
  if (attempt.exchange && statusCode < 300) {
    attempt.counter.login(attempt.method, attempt.provider, 'succeeded', '');
    if (!attempt.audit.wants('login', 'succeeded')) return;
    attempt.audit.record({
      type: 'login',
      action: 'succeeded',
      status: 'success',
      actor: actorOf(undefined, requestIp(request, attempt.trustedProxies)),
      payload: { method: attempt.method, ...(attempt.provider !== '' && { provider: attempt.provider }) },
    });
    return;
  }
  const reason = refusalReason(attempt.error, Reasons.LOGIN_REFUSED);
  attempt.counter.login(attempt.method, attempt.provider, 'refused', reason);
  if (!attempt.audit.wants('login', 'refused')) return;
  if (!withinBudget(attempt.audit)) {
    attempt.audit.rateLimited(1);
    return;
  }
  attempt.audit.record({
    type: 'login',
    action: 'refused',
    status: 'denied',
    actor: actorOf(undefined, requestIp(request, attempt.trustedProxies)),
    payload: {
      method: attempt.method,
      ...(attempt.provider !== '' && { provider: attempt.provider }),
      reason,
    },
  });
}
