/**
 * The time claims (`nbf`, `iat`, `exp`) of every token a remote party signs, checked with the leeway that the Go
 * library Flipt verifies that token with gives, claim by claim. One table, each row with its source, so that a
 * token kind cannot drift from its library and a reader can check every number (RFC 7519 §4.1.4–4.1.6 allow "some
 * small leeway, usually no more than a few minutes, to account for clock skew").
 *
 * Boundaries are Go's: a claim exactly at its leeway passes, one millisecond past fails (`now.Add(leeway).Before(nbf)`
 * refuses, `now.Add(-leeway).After(exp)` refuses), with the current time in milliseconds as Go's is in nanoseconds.
 */

import { type Reason, Reasons } from './reasons.ts';

/** How one kind of token's time claims are checked. Leeways are in seconds. */
export interface TimeClaimRules {
  /** The library (and file) whose behaviour this row reproduces, or why it differs. */
  readonly source: string;
  /** How far ahead of now `nbf` may lie. */
  readonly notBeforeLeewayS: number;
  /** How far behind now `exp` may lie. */
  readonly expiryLeewayS: number;
  /** How far ahead of now `iat` may lie; absent: `iat` is not compared with the clock. */
  readonly issuedAtLeewayS?: number;
  /** How old (now − `iat`) the token may be; absent: no limit. */
  readonly maxAgeS?: number;
  /**
   * What a missing claim means. `exp-required`: no `exp` refuses the token. `exp-optional`: a missing claim is not
   * checked. `cap`: hashicorp/cap's rules — at least one of `iat`, `nbf`, `exp`; no `exp` means
   * `max(iat, nbf) + 150 s`; no `nbf` means `iat`, else `exp − 150 s`; a claim of 0 counts as missing.
   */
  readonly missing: 'exp-required' | 'exp-optional' | 'cap';
}

/** go-oidc's allowance for `nbf` ("what other OpenID Connect providers do to deal with clock skew"). */
const GO_OIDC_NOT_BEFORE_LEEWAY_S = 5 * 60;
/** go-jose's `jwt.DefaultLeeway`, which hashicorp/cap applies to `nbf`, `exp` and `iat` alike. */
const GO_JOSE_DEFAULT_LEEWAY_S = 60;
/** hashicorp/cap's `DefaultLeewaySeconds`: the life it assumes for a token without `exp`. */
export const CAP_ASSUMED_LIFETIME_S = 150;

/**
 * The rules for each kind of signed token portcullis verifies:
 *
 * | token | `nbf` ahead | `exp` behind | `iat` ahead | source |
 * | --- | --- | --- | --- | --- |
 * | OIDC ID token | 300 s | 0 (required) | not checked | go-oidc v3 `IDTokenVerifier.Verify` |
 * | OIDC logout token | 300 s | 0 (required) | 300 s, at most 5 min old | as ID tokens (Back-Channel Logout 1.0 §2.6) |
 * | OIDC userinfo JWT | 300 s | 0 (if present) | not checked | as ID tokens (go-oidc checks none) |
 * | `jwt` method | 60 s | 60 s | 60 s | hashicorp/cap v0.13 `jwt.Validate` |
 * | `kubernetes` service account token | 300 s | 0 (required) | not checked | go-oidc v3 `IDTokenVerifier.Verify` |
 */
export const TIME_CLAIM_RULES = {
  /** Flipt verifies ID tokens at the callback with go-oidc (oidc/verify.go): `exp` strictly, `nbf` 5 minutes. */
  idToken: {
    source: 'go-oidc v3 IDTokenVerifier.Verify (oidc/verify.go), as Flipt internal/server/authn/method/oidc',
    notBeforeLeewayS: GO_OIDC_NOT_BEFORE_LEEWAY_S,
    expiryLeewayS: 0,
    missing: 'exp-required',
  },
  /**
   * Back-Channel Logout 1.0 §2.6 step 3 validates `iat` and `exp` "in the same way as ID Tokens", so go-oidc's ID
   * token numbers; the age limit and `iat`'s allowance are ours (Flipt checks no time claim of a logout token, so
   * a captured one could be replayed forever).
   */
  logoutToken: {
    source:
      'go-oidc v3 ID token rules (Back-Channel Logout 1.0 §2.6); the 5-minute age limit is portcullis’s',
    notBeforeLeewayS: GO_OIDC_NOT_BEFORE_LEEWAY_S,
    expiryLeewayS: 0,
    issuedAtLeewayS: GO_OIDC_NOT_BEFORE_LEEWAY_S,
    maxAgeS: 5 * 60,
    missing: 'exp-required',
  },
  /**
   * go-oidc's `Provider.UserInfo` checks only the signature of a JWT answer; openid-client checks `exp` and `nbf`
   * when present, and the provider signs it with the clock that signs its ID tokens, so the ID token's numbers.
   */
  userinfo: {
    source: 'go-oidc v3 ID token leeways, applied to the claims openid-client checks',
    notBeforeLeewayS: GO_OIDC_NOT_BEFORE_LEEWAY_S,
    expiryLeewayS: 0,
    missing: 'exp-optional',
  },
  /** Flipt validates `Authorization: JWT` tokens with hashicorp/cap (internal/cmd/authn.go). */
  jwt: {
    source: 'hashicorp/cap v0.13 jwt.Validate with go-jose jwt.DefaultLeeway',
    notBeforeLeewayS: GO_JOSE_DEFAULT_LEEWAY_S,
    expiryLeewayS: GO_JOSE_DEFAULT_LEEWAY_S,
    issuedAtLeewayS: GO_JOSE_DEFAULT_LEEWAY_S,
    missing: 'cap',
  },
  /** Flipt verifies service account tokens with go-oidc, `SkipClientIDCheck` (method/kubernetes/validator.go). */
  serviceAccount: {
    source: 'go-oidc v3 IDTokenVerifier.Verify, as Flipt internal/server/authn/method/kubernetes',
    notBeforeLeewayS: GO_OIDC_NOT_BEFORE_LEEWAY_S,
    expiryLeewayS: 0,
    missing: 'exp-required',
  },
} as const satisfies Record<string, TimeClaimRules>;

/** A token kind of {@link TIME_CLAIM_RULES}. */
export type TokenKind = keyof typeof TIME_CLAIM_RULES;

type Claims = Readonly<Record<string, unknown>>;

/** The latest NumericDate a JavaScript `Date` holds (ECMA-262 §21.4.1.1: ±8.64e15 ms). */
const MAX_NUMERIC_DATE_S = 8.64e12;

/** A claim as a number of seconds, or `undefined` when absent (and, under cap's rules, when 0). */
function seconds(claims: Claims, name: 'iat' | 'nbf' | 'exp', rules: TimeClaimRules): number | undefined {
  const value = claims[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return rules.missing === 'cap' && value === 0 ? undefined : value;
}

/** The token's `nbf` and `exp` as the rules read them (cap fills in missing ones), in seconds. */
function window(
  claims: Claims,
  rules: TimeClaimRules,
): { notBefore?: number; expiry?: number; iat?: number } {
  const iat = seconds(claims, 'iat', rules);
  const nbf = seconds(claims, 'nbf', rules);
  const exp = seconds(claims, 'exp', rules);
  if (rules.missing !== 'cap') return { notBefore: nbf, expiry: exp, iat };
  if (iat === undefined && nbf === undefined && exp === undefined) return {};
  const expiry = exp ?? Math.max(iat ?? 0, nbf ?? 0) + CAP_ASSUMED_LIFETIME_S;
  return { notBefore: nbf ?? iat ?? expiry - CAP_ASSUMED_LIFETIME_S, expiry, iat };
}

/** Why a token's time claims refuse it: a reason id ({@link Reasons}) and hashicorp/cap's words. */
export interface TimeClaimRefusal {
  readonly reason: Reason;
  readonly message: string;
}

function refusal(reason: Reason, message: string): TimeClaimRefusal {
  return { reason, message };
}

/**
 * Why a token's time claims refuse it at `nowMs`, or `undefined` when they allow it. The claims are taken as a
 * verified token's (the types of `nbf`, `iat` and `exp` were checked when the signature was: jose refuses a
 * non-numeric one). Messages follow hashicorp/cap's.
 */
export function timeClaimsRefusal(
  claims: Claims,
  rules: TimeClaimRules,
  nowMs: number,
): TimeClaimRefusal | undefined {
  for (const name of ['iat', 'nbf', 'exp'] as const) {
    const value = claims[name];
    // Past what a date can hold (JSON's 1e400 is Infinity): Go fails to parse such a claim; a store could not keep it.
    if (value !== undefined && !(typeof value === 'number' && Math.abs(value) <= MAX_NUMERIC_DATE_S)) {
      return refusal(
        Reasons.TIME_CLAIM_INVALID,
        `invalid ${name} claim: not a date (${typeof value === 'number' ? value : typeof value})`,
      );
    }
  }
  const { notBefore, expiry, iat } = window(claims, rules);
  if (rules.missing === 'cap' && expiry === undefined) {
    return refusal(
      Reasons.TIME_CLAIM_MISSING,
      'no issued at (iat), not before (nbf), or expiration time (exp) claims in token',
    );
  }
  if (rules.missing === 'exp-required' && expiry === undefined)
    return refusal(Reasons.TIME_CLAIM_MISSING, 'no expiration time (exp) claim in token');
  if (notBefore !== undefined && notBefore * 1000 > nowMs + rules.notBeforeLeewayS * 1000) {
    return refusal(Reasons.TOKEN_NOT_YET_VALID, 'invalid not before (nbf) claim: token not yet valid');
  }
  if (expiry !== undefined && expiry * 1000 < nowMs - rules.expiryLeewayS * 1000) {
    return refusal(Reasons.TOKEN_EXPIRED, 'invalid expiration time (exp) claim: token is expired');
  }
  if (
    iat !== undefined &&
    rules.issuedAtLeewayS !== undefined &&
    iat * 1000 > nowMs + rules.issuedAtLeewayS * 1000
  ) {
    return refusal(
      Reasons.TOKEN_ISSUED_IN_FUTURE,
      'invalid issued at (iat) claim: token issued in the future',
    );
  }
  if (rules.maxAgeS !== undefined && (iat === undefined || nowMs - iat * 1000 > rules.maxAgeS * 1000)) {
    return iat === undefined
      ? refusal(Reasons.TIME_CLAIM_MISSING, 'no issued at (iat) claim in token')
      : refusal(Reasons.TOKEN_TOO_OLD, 'invalid issued at (iat) claim: token is too old');
  }
  return undefined;
}

/** The message of {@link timeClaimsRefusal}, or `undefined` when the time claims allow the token. */
export function timeClaimsProblem(claims: Claims, rules: TimeClaimRules, nowMs: number): string | undefined {
  return timeClaimsRefusal(claims, rules, nowMs)?.message;
}

/**
 * The last moment (ms since the epoch) at which the rules still accept the token, for caches of verified tokens that
 * must not outlive it; `Infinity` when nothing in the token ends it.
 */
export function acceptedUntilMs(claims: Claims, rules: TimeClaimRules): number {
  const { expiry, iat } = window(claims, rules);
  let until = expiry === undefined ? Number.POSITIVE_INFINITY : (expiry + rules.expiryLeewayS) * 1000;
  if (rules.maxAgeS !== undefined && iat !== undefined) until = Math.min(until, (iat + rules.maxAgeS) * 1000);
  return until;
}
