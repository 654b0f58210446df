import { errorCode } from '../errors.ts';

/**
 * The reason ids of refusals: stable snake_case names that decision logs carry beside the free-text `detail` (and
 * that metrics and audit events count by). The README's Errors section lists them, with the ids built-in methods
 * give their own refusals; a test keeps that table and the sources in step. A message may change; an id does not.
 */
export const Reasons = {
  /** No `Authorization` header and no `flipt_client_token` cookie. */
  NO_CREDENTIAL: 'no_credential',
  /** An `Authorization` header whose scheme is neither `Bearer` nor one a method owns. */
  UNSUPPORTED_AUTHORIZATION: 'unsupported_authorization',
  /** A client token (`Bearer` or the cookie) that is neither a static token nor a stored authentication. */
  CLIENT_TOKEN_NOT_FOUND: 'client_token_not_found',
  /** The authentication found, or the one a method made of the credential, has expired. */
  AUTHENTICATION_EXPIRED: 'authentication_expired',
  /** Every method owning the credential's scheme passed it on (`authenticate` answered `null`). */
  NO_METHOD_ACCEPTED: 'no_method_accepted',
  /** A method refused the credential, and its error gave neither a reason id nor a code to name one after. */
  METHOD_REFUSED: 'method_refused',
  /**
   * A method answered something that is not an authentication (`authenticate` or `findClientToken` gave `false`,
   * `undefined`, a string, an object without `id`, `method` or string metadata): refused, and logged, never taken.
   */
  METHOD_INVALID_ANSWER: 'method_invalid_answer',
  /** The method that created a session refused it (`admit`), giving neither a reason id nor a code. */
  NOT_ADMITTED: 'not_admitted',
  /** Flipt's cross-origin protection refused a state-changing request (a 403, before any credential is read). */
  CSRF_REFUSED: 'csrf_refused',
  /** `authentication.required` is false, so no request is authenticated: `/auth/v1/self` and the like are a 401. */
  AUTHENTICATION_NOT_REQUIRED: 'authentication_not_required',
  /** Deciding failed (rather than refused) with an error that has no code, so no id could be named after it. */
  DECISION_FAILED: 'decision_failed',
  /** A signed token's expiry (`exp`), with its leeway, has passed (verifyJwt's time rules). */
  TOKEN_EXPIRED: 'token_expired',
  /** A signed token's `nbf` (or `iat` where it stands for it) is still ahead, past its leeway. */
  TOKEN_NOT_YET_VALID: 'token_not_yet_valid',
  /** A signed token's `iat` is in the future, past its leeway. */
  TOKEN_ISSUED_IN_FUTURE: 'token_issued_in_future',
  /** A signed token was issued longer ago than its kind allows. */
  TOKEN_TOO_OLD: 'token_too_old',
  /** A time claim the token's kind requires is missing (`exp`, or all of `iat`, `nbf` and `exp`). */
  TIME_CLAIM_MISSING: 'time_claim_missing',
  /** A time claim that is not a date a token can hold. */
  TIME_CLAIM_INVALID: 'time_claim_invalid',
  /** A claim the method checks has another value than it expects (`iss`, `aud`, `sub`, the `typ` header). */
  CLAIM_MISMATCH: 'claim_mismatch',
  /** A claim the method requires is missing. */
  CLAIM_MISSING: 'claim_missing',
  /** A login callback was refused by an error that gave neither a reason id nor a code (`login:refused` events). */
  LOGIN_REFUSED: 'login_refused',
} as const;

/** One of the core's {@link Reasons}. A plugin may give ids of its own. */
export type Reason = (typeof Reasons)[keyof typeof Reasons];

const REASON_ID = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
/** Longer is not an id but words: reason ids name kinds of refusal, and metrics count by them. */
const MAX_REASON_LENGTH = 64;

/** Whether `value` is a reason id: snake_case, lower-case ASCII, at most 64 characters. */
export function isReasonId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_REASON_LENGTH && REASON_ID.test(value);
}

/**
 * The reason id of a refusal that something threw: its `reason` property when that is an id (`ctx.error(code,
 * message, { reason })`), else one named after its `code` (`ERR_JWS_SIGNATURE_VERIFICATION_FAILED` →
 * `jws_signature_verification_failed`: lower-cased, without `ERR_`), else `fallback`.
 */
export function refusalReason(error: unknown, fallback: Reason): string {
  const { reason } = (typeof error === 'object' && error !== null ? error : {}) as { reason?: unknown };
  if (isReasonId(reason)) return reason;
  const code = errorCode(error);
  if (code !== undefined && /^[A-Z][A-Z0-9_]*$/.test(code)) {
    const named = code.replace(/^ERR_/, '').toLowerCase();
    if (isReasonId(named)) return named;
  }
  return fallback;
}
