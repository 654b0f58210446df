import type { createLocalJWKSet, JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { ErrorCodes, errorCode } from '../errors.ts';
import type { MaybePromise } from '../maybe-promise.ts';
import type { FetchLike } from '../plugins/contracts.ts';
import { readTextLimited } from './bounded-body.ts';
import { assertCompactJws } from './compact-jws.ts';
import {
  JWT_CHECK_NAMES,
  type JwtChecks,
  joseErrorsLoading,
  type PreparedChecks,
  prepareChecks,
  type VerificationKey,
  type VerifiedJwt,
  verifySigned,
} from './jws-verify.ts';
import { type Reason, Reasons } from './reasons.ts';
import { type TimeClaimRules, timeClaimsRefusal } from './time-claims.ts';

// jose's functions are imported where first used, each from its own module (jose/jwt/verify, jose/jwks/local):
// its index is 46 modules, ~20 ms of a start-up, and a start-up verifies no token and fetches no key set.

/** The shortest wait between two JWKS fetches, whatever asks for them (unknown `kid`, failed signature, age). */
export const JWKS_MIN_INTERVAL_MS = 1_000;
/** The longest wait between two attempts while the JWKS server keeps failing. */
const JWKS_MAX_BACKOFF_MS = 30_000;
/** jose's default: keys older than this are fetched again before use (a key removed from the set stops working). */
const DEFAULT_CACHE_MAX_AGE_MS = 10 * 60 * 1000;
/** How long a JWKS fetch may take. */
const JWKS_TIMEOUT_MS = 5_000;
/** A key set is a few KiB; a larger answer is refused rather than parsed. */
const MAX_JWKS_BYTES = 1024 * 1024;

/** A JWKS fetch refused because the last attempt was too recent (the key set is not fetched on every request). */
export class JwksCooldownError extends Error {
  readonly code = ErrorCodes.JWKS_COOLDOWN;
}

/**
 * Keys to verify signatures with. `getKey` is what jose's `jwtVerify` takes. A set that can change (a JWKS URL)
 * also has `version`, which changes whenever its keys may have, and `refetch`, which {@link verifyJwt} calls when a
 * signature fails against the keys at hand.
 */
export interface KeySet {
  readonly getKey: JWTVerifyGetKey;
  readonly version?: number;
  /**
   * Fetches the set again unless it was fetched less than {@link JWKS_MIN_INTERVAL_MS} ago; resolves `true` when
   * it did (or joined a fetch under way), `false` when it was too soon. Rejects when the fetch fails.
   */
  refetch?(): Promise<boolean>;
}

/**
 * Keys from a JWKS URL, kept as go-oidc's `RemoteKeySet` keeps them (what Flipt verifies ID tokens, JWTs and service
 * account tokens with): fetched on first use, and fetched again whenever the keys at hand fail to verify a
 * signature, whatever the token's `kid` — so a key rotated under the same `kid`, or published without one, is
 * picked up at once. Also fetched again once older than `cacheMaxAgeMs` (as jose's remote set), keeping the old keys
 * if that fails.
 *
 * Every attempt counts, failed ones too: at most one fetch a second, one at a time (concurrent callers share it),
 * and while the server fails, waits that double up to thirty seconds — so neither forged tokens nor made-up key ids
 * nor an outage turn into a flood of requests to the JWKS server. A 5xx is an error carrying its `status`, so that
 * callers can tell an outage.
 *
 * @throws {JwksCooldownError} (`ERR_JWKS_COOLDOWN`) from `getKey` while no keys were ever fetched and a retry is
 * not yet due.
 */
export function remoteKeySet(
  url: string,
  fetch: FetchLike,
  options: { cacheMaxAgeMs?: number } = {},
): KeySet {
  return new RemoteKeySet(url, fetch, options.cacheMaxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS);
}

class RemoteKeySet implements KeySet {
  readonly #url: string;
  readonly #fetch: FetchLike;
  readonly #maxAgeMs: number;
  #local: JWTVerifyGetKey | undefined;
  #fetchedAt = 0;
  #pending: Promise<void> | undefined;
  #nextAttemptAt = 0;
  #backoff = JWKS_MIN_INTERVAL_MS;
  version = 0;

  constructor(url: string, fetch: FetchLike, maxAgeMs: number) {
    this.#url = url;
    this.#fetch = fetch;
    this.#maxAgeMs = maxAgeMs;
  }

  // Answers at once with a key it resolved before (rememberingKeys), so a token signed by a known key is verified
  // without a turn of the event loop.
  readonly getKey: JWTVerifyGetKey = (header, token) => {
    const fromLocal = () => (this.#local as JWTVerifyGetKey)(header, token);
    if (this.#local === undefined) return this.#load().then(fromLocal);
    if (Date.now() - this.#fetchedAt >= this.#maxAgeMs) {
      // Stale keys still verify while the server cannot be reached: a JWKS outage must not lock everyone out.
      return this.#load().then(fromLocal, fromLocal);
    }
    return fromLocal();
  };

  async refetch(): Promise<boolean> {
    if (this.#pending !== undefined) {
      await this.#pending;
      return true;
    }
    if (Date.now() < this.#nextAttemptAt) return false;
    await this.#load();
    return true;
  }

  /** One fetch at a time, no sooner than the rate limit allows; without keys, a refusal is an error. */
  #load(): Promise<void> {
    if (this.#pending !== undefined) return this.#pending;
    if (Date.now() < this.#nextAttemptAt) {
      if (this.#local !== undefined) return Promise.resolve();
      return Promise.reject(
        new JwksCooldownError(
          `the JWKS at ${this.#url} was asked less than ${Math.ceil(this.#backoff / 1000)}s ago`,
        ),
      );
    }
    this.#nextAttemptAt = Date.now() + this.#backoff;
    this.#pending = Promise.all([this.#download(), import('jose/jwks/local')])
      .then(
        ([jwks, { createLocalJWKSet }]) => {
          this.#local = rememberingKeys(createLocalJWKSet(jwks), false);
          this.#fetchedAt = Date.now();
          this.version++;
          this.#backoff = JWKS_MIN_INTERVAL_MS;
          this.#nextAttemptAt = this.#fetchedAt + this.#backoff;
        },
        (error: unknown) => {
          this.#backoff = Math.min(this.#backoff * 2, JWKS_MAX_BACKOFF_MS);
          this.#nextAttemptAt = Date.now() + this.#backoff;
          throw error;
        },
      )
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  async #download(): Promise<JSONWebKeySet> {
    const response = await this.#fetch(this.#url, {
      headers: { accept: 'application/json, application/jwk-set+json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw Object.assign(new Error(`the JWKS at ${this.#url} answered ${response.status}`), {
        status: response.status,
      });
    }
    const text = await readTextLimited(response, MAX_JWKS_BYTES, `the JWKS at ${this.#url}`);
    let jwks: unknown;
    try {
      jwks = JSON.parse(text);
    } catch {
      throw new Error(`the JWKS at ${this.#url} is not JSON`);
    }
    const keys = (jwks as { keys?: unknown } | null)?.keys;
    if (
      !Array.isArray(keys) ||
      !keys.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key))
    ) {
      throw new Error(`the JWKS at ${this.#url} has no "keys" list of objects`);
    }
    return jwks as JSONWebKeySet;
  }
}

/** Keys that never change (a PEM file read at start-up): nothing to fetch again. */
export function staticKeySet(getKey: JWTVerifyGetKey): KeySet {
  return { getKey };
}

/**
 * jose's local key set (`createLocalJWKSet`), each key it resolves remembered by the header's `alg` and `kid` and
 * handed back at once from then on. jose picks a set's key by those two alone (and the set, which never changes), so
 * the same header finds the same key (a JWS with an unprotected header, whose members jose reads too, is always
 * handed to jose); only keys found are remembered, so there are at most as many entries as keys
 * times algorithms, whatever `kid`s tokens make up. With `ignoreKid`, a token's `kid` is not read at all.
 */
function rememberingKeys(local: ReturnType<typeof createLocalJWKSet>, ignoreKid: boolean): JWTVerifyGetKey {
  const known = new Map<string, Map<string | undefined, VerificationKey>>();
  return (header, token) => {
    const { alg } = header;
    const kid: unknown = ignoreKid ? undefined : header.kid;
    // jose reads alg and kid from the unprotected header too (a JWS in JSON): such a JWS is not answered from memory.
    const remembered =
      token?.header === undefined &&
      typeof alg === 'string' &&
      (kid === undefined || typeof kid === 'string');
    const key = remembered ? known.get(alg)?.get(kid) : undefined;
    if (key !== undefined) return key;
    const asked = ignoreKid ? { ...header, kid: undefined } : header;
    const seen =
      ignoreKid && token !== undefined ? { ...token, header: { ...token.header, kid: undefined } } : token;
    if (!remembered) return local(asked, seen);
    return local(asked, seen).then((found) => {
      let byKid = known.get(alg);
      if (byKid === undefined) {
        byKid = new Map();
        known.set(alg, byKid);
      }
      byKid.set(kid, found);
      return found;
    });
  };
}

/**
 * Keys that never change, from a JSON Web Key Set: each token's key picked as jose's `createLocalJWKSet` picks it
 * (by `alg`, and by `kid` unless `ignoreKid`), and remembered once found, so that later tokens signed by it are
 * verified without waiting. `ignoreKid`: every token is tried against every key its algorithm fits, whatever its
 * `kid` says (keys read from a PEM file have none).
 *
 * Since kit 1.4.0.
 *
 * @throws jose's `JWKSInvalid` (`ERR_JWKS_INVALID`) for a set that is not `{ keys: [...] }`.
 */
export async function localKeySet(
  jwks: JSONWebKeySet,
  options: { readonly ignoreKid?: boolean } = {},
): Promise<KeySet> {
  const { createLocalJWKSet } = await import('jose/jwks/local');
  return staticKeySet(rememberingKeys(createLocalJWKSet(jwks), options.ignoreKid === true));
}

/**
 * What verifying a token needs beside its keys: jose's checks (`algorithms`, `crit`, `issuer`, `subject`, `audience`,
 * `typ`, `requiredClaims`; not its time checks, nor `maxTokenAge`, `clockTolerance` or `currentDate`, which the
 * time rules and `now` replace) and the time rules. Any other option is refused, by the compiler and at run time.
 */
export interface VerifyJwtOptions extends Omit<JwtChecks, 'now'> {
  /** The token kind's time rules, from `TIME_CLAIM_RULES`. */
  readonly timeRules: TimeClaimRules;
  /** The current time, ms since the epoch (`Date.now()` by default). */
  readonly now?: number;
}

export type { VerifiedJwt };

/**
 * Failures that other keys could not mend: a malformed token, a refused algorithm, a claim, a fetch already refused.
 * Any other failure against the keys at hand — a bad signature, no key for the `kid`, a key jose cannot use (a weak
 * RSA key, an unsupported curve) — makes the set worth fetching again, as go-oidc refetches after any failure.
 */
const KEY_INDEPENDENT = new Set([
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_EXPIRED',
  ErrorCodes.JWKS_COOLDOWN,
]);

/**
 * Verifies a JWT as Flipt's Go libraries do: the signature against `keys` (every key that fits a token without
 * `kid`, or with a `kid` several keys share, is tried, as go-oidc tries them), jose's checks of `options`
 * (algorithms allow-list, `crit`, issuer, audience, subject, required claims, `typ`), then the time claims by
 * `options.timeRules` — jose's own time checks are left out so that one table decides. jose's `jwtVerify` is
 * followed step for step, with the signature checked by `node:crypto` ({@link verifySignedJwt}). When the signature fails
 * against keys that can change, the set is fetched again (rate-limited, see {@link remoteKeySet}) and the token
 * tried once more. Before all that, a token that is not a strict compact JWS (padding, a character outside
 * base64url, not three parts: {@link compactJwsProblem}) is refused.
 *
 * @throws a {@link CompactJwsError} (`ERR_JWS_INVALID`) naming what is malformed, jose's errors
 * (`ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, `ERR_JWKS_NO_MATCHING_KEY`, ...), a failed JWKS fetch's error, a
 * {@link ClaimCheckError} for a claim jose's checks refuse, or a {@link TimeClaimError} naming the time claim the
 * rules refuse (both `ERR_JWT_CLAIM_VALIDATION_FAILED`, with a reason id such as `claim_mismatch` or
 * `token_expired`); a TypeError for a key the token's algorithm cannot use (jose's: a weak RSA key, another curve)
 * or an option `VerifyJwtOptions` does not have.
 */
export async function verifyJwt(
  token: string,
  keys: KeySet,
  options: VerifyJwtOptions,
): Promise<VerifiedJwt> {
  // Before jose's checks, which would take padding and whitespace: the strict reading is go-jose's, and RFC 7515's.
  assertCompactJws(token);
  const { now = Date.now(), ...rest } = optionsChecked(options);
  return jwtVerification(keys, rest).verify(token, now);
}

/** `options`, unless it has an option that nothing reads (`maxTokenAge`, say), which must not pass for a check made. */
function optionsChecked<T extends object>(options: T): T {
  for (const name in options) {
    if (name !== 'timeRules' && !JWT_CHECK_NAMES.has(name))
      throw new TypeError(`verifyJwt has no "${name}" option`);
  }
  return options;
}

/** {@link verifyJwt} for many tokens with the same keys and options ({@link jwtVerification}). Since kit 1.4.0. */
export interface JwtVerification {
  /**
   * Verifies `token` as {@link verifyJwt} does, at `now` (ms since the epoch, `Date.now()` by default): the verified
   * token at once when nothing had to be waited for (its key known, jose loaded), a promise of it otherwise. Never
   * throws: a refusal is a rejected promise, with {@link verifyJwt}'s errors.
   */
  verify(token: string, now?: number): MaybePromise<VerifiedJwt>;
}

/**
 * What {@link verifyJwt} does, made ready once for a method's every token: the options checked and prepared at
 * once (so a mistake in them shows at start-up, not at the first token), and a token whose key the key set knows
 * verified without a turn of the event loop (the key sets here answer at once with a key they found before).
 *
 * Since kit 1.4.0.
 *
 * @param options as {@link verifyJwt}'s, without `now`, which each verification is given.
 * @throws TypeError for an option {@link VerifyJwtOptions} does not have, or an `algorithms` that is not a list of
 * strings.
 */
export function jwtVerification(keys: KeySet, options: Omit<VerifyJwtOptions, 'now'>): JwtVerification {
  const { timeRules, ...rest } = optionsChecked(options);
  if ('now' in rest) throw new TypeError('jwtVerification takes "now" with each token, not in its options');
  const checks = prepareChecks(rest);
  const inTime = (verified: VerifiedJwt, now: number): VerifiedJwt => {
    const refusal = timeClaimsRefusal(verified.payload, timeRules, now);
    if (refusal !== undefined) throw new TimeClaimError(refusal.message, refusal.reason);
    return verified;
  };
  const again = async (error: unknown, token: string, version: number | undefined, now: number) => {
    if (KEY_INDEPENDENT.has(errorCode(error) ?? '') || keys.refetch === undefined) throw error;
    // Keys that changed since this attempt began are new enough; otherwise ask the server once.
    if (keys.version === version && !(await keys.refetch())) throw error;
    return inTime(await withEachKey(token, keys.getKey, checks, now), now);
  };
  const verify = (token: string, now: number): MaybePromise<VerifiedJwt> => {
    assertCompactJws(token);
    const loading = joseErrorsLoading();
    if (loading !== undefined) return loading.then(() => verify(token, now));
    const version = keys.version;
    // withEachKey does not throw: what verifySigned throws at once comes back as a rejection.
    const first = withEachKey(token, keys.getKey, checks, now);
    if (first instanceof Promise) {
      return first.then(
        (verified) => inTime(verified, now),
        (error: unknown) => again(error, token, version, now),
      );
    }
    return inTime(first, now);
  };
  return {
    verify(token, now = Date.now()) {
      try {
        return verify(token, now);
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

/** A token whose time claims the rules refuse; `reason` says how (`token_expired`, `token_not_yet_valid`, ...). */
export class TimeClaimError extends Error {
  readonly code = 'ERR_JWT_CLAIM_VALIDATION_FAILED';
  readonly reason: Reason;

  constructor(message: string, reason: Reason = Reasons.TIME_CLAIM_INVALID) {
    super(message);
    this.reason = reason;
  }
}

/**
 * A claim jose's checks refuse (`iss`, `aud`, `sub`, the `typ` header, a required claim), with jose's message and
 * code, and a reason id in place of jose's own `reason` (`check_failed`, `missing`), which names no kind of refusal.
 */
export class ClaimCheckError extends Error {
  readonly code = 'ERR_JWT_CLAIM_VALIDATION_FAILED';
  readonly reason: Reason;
  /** The claim jose names. */
  readonly claim: string;

  constructor(message: string, claim: string, reason: Reason, options?: { cause?: unknown }) {
    super(message, options);
    this.claim = claim;
    this.reason = reason;
  }
}

/** jose's claim failure as a {@link ClaimCheckError}; any other error as it is. */
function claimChecked(error: unknown): unknown {
  if (errorCode(error) !== 'ERR_JWT_CLAIM_VALIDATION_FAILED' || error instanceof TimeClaimError) return error;
  const { message, claim, reason } = error as { message: string; claim?: unknown; reason?: unknown };
  const id =
    reason === 'missing'
      ? Reasons.CLAIM_MISSING
      : reason === 'invalid'
        ? Reasons.TIME_CLAIM_INVALID
        : Reasons.CLAIM_MISMATCH;
  return new ClaimCheckError(message, typeof claim === 'string' ? claim : 'unspecified', id, {
    cause: error,
  });
}

/**
 * {@link verifySigned} against a key set, trying each key when several fit (jose hands them over in its
 * JWKSMultipleMatchingKeys error rather than trying them itself); jose's claim failures as {@link ClaimCheckError}s.
 * At once when the key set answers at once; a refusal is always a rejection, never a throw.
 */
function withEachKey(
  token: string,
  getKey: JWTVerifyGetKey,
  checks: PreparedChecks,
  now: number,
): MaybePromise<VerifiedJwt> {
  let verified: MaybePromise<VerifiedJwt>;
  try {
    verified = verifySigned(token, getKey, checks, now);
  } catch (error) {
    return eachMatchingKey(error, token, checks, now);
  }
  return verified instanceof Promise
    ? verified.catch((error: unknown) => eachMatchingKey(error, token, checks, now))
    : verified;
}

/** The keys a JWKSMultipleMatchingKeys error holds, each tried in turn; any other error, as it is (or claim-checked). */
async function eachMatchingKey(
  error: unknown,
  token: string,
  checks: PreparedChecks,
  now: number,
): Promise<VerifiedJwt> {
  if (errorCode(error) !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw claimChecked(error);
  let last: unknown = error;
  for await (const key of error as AsyncIterable<VerificationKey>) {
    try {
      return await verifySigned(token, key, checks, now);
    } catch (failure) {
      last = failure;
    }
  }
  throw claimChecked(last);
}
