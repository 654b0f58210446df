import type { JWTPayload } from 'jose';
import {
  acceptedUntilMs,
  ErrorCodes,
  type JwtVerification,
  jwtVerification,
  type KeySet,
  type MaybePromise,
  PluginError,
  TIME_CLAIM_RULES,
  timeClaimsProblem,
  VerifiedTokens,
} from '../../core/plugins/kit/index.ts';

/** The algorithms Flipt accepts for JWTs: no HMAC (the key is public), no RS384, ES384 or PSS. */
export const JWT_ALGORITHMS = ['RS256', 'RS512', 'ES256', 'ES512', 'EdDSA'];
/** Longer tokens are refused before any parsing: real ones are a few KiB. */
export const MAX_JWT_BYTES = 16 * 1024;
/** How many verified tokens are remembered, and for how long at most (a removed key stops working by then). */
const CACHE_ENTRIES = 10_000;
const CACHE_TTL_MS = 5 * 60 * 1000;
const RULES = TIME_CLAIM_RULES.jwt;

/** The claim rules of `validate_claims`. */
export interface ClaimRules {
  readonly issuer?: string;
  readonly subject?: string;
  readonly audiences: readonly string[];
}

/** A remembered token: its time claims (checked again on every use) and what was made of its claims. */
interface Remembered<T> {
  readonly times: Pick<JWTPayload, 'iat' | 'nbf' | 'exp'>;
  readonly value: T;
}

/**
 * Verifies JWTs as Flipt's jwt method does: signature with the configured keys and Flipt's algorithms, then
 * `validate_claims`, then hashicorp/cap's time rules (`TIME_CLAIM_RULES.jwt`). What a verified token stands for
 * (`build` of its claims: the method's authentication) is remembered from its second verification on (by the
 * token's hash, never past its expiry; `VerifiedTokens.remember`), so a client that sends the same token with every
 * request pays for two verifications, and tokens sent once are not kept.
 */
export class JwtVerifier<T = JWTPayload> {
  readonly #verification: JwtVerification;
  readonly #now: () => number;
  readonly #build: (claims: JWTPayload) => T;
  readonly #verified = new VerifiedTokens<Remembered<T>>(CACHE_ENTRIES);

  /**
   * @param now the current time, ms since the epoch.
   * @param build what a verified token's claims stand for (the claims themselves by default); called once per token
   * verified, not for one remembered.
   */
  constructor(
    keys: KeySet,
    rules: ClaimRules,
    now: () => number = Date.now,
    build: (claims: JWTPayload) => T = (claims) => claims as T,
  ) {
    const { issuer, subject, audiences } = rules;
    this.#verification = jwtVerification(keys, {
      algorithms: JWT_ALGORITHMS,
      timeRules: RULES,
      ...(issuer !== undefined && issuer !== '' && { issuer }),
      ...(subject !== undefined && subject !== '' && { subject }),
      ...(audiences.length > 0 && { audience: [...audiences] }),
    });
    this.#now = now;
    this.#build = build;
  }

  /**
   * What `token` stands for: at once when it is remembered or its key is known, a promise otherwise. Never throws:
   * a refusal is a rejected promise (a {@link PluginError} `UNAUTHENTICATED` for a token over
   * {@link MAX_JWT_BYTES}, else verifyJwt's errors).
   */
  verify(token: string): MaybePromise<T> {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a token that short cannot be too long, and is not measured.
    if (token.length * 3 > MAX_JWT_BYTES && Buffer.byteLength(token) > MAX_JWT_BYTES) {
      return Promise.reject(
        new PluginError(ErrorCodes.UNAUTHENTICATED, `token longer than ${MAX_JWT_BYTES} bytes`, {
          reason: 'token_too_long',
        }),
      );
    }
    const now = this.#now();
    const cached = this.#verified.recall(token, now);
    if (cached !== undefined && timeClaimsProblem(cached.times, RULES, now) === undefined)
      return cached.value;
    const verified = this.#verification.verify(token, now);
    if (verified instanceof Promise)
      return verified.then(({ payload }) => this.#remember(token, payload, now));
    try {
      return this.#remember(token, verified.payload, now);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** What `claims` stand for, remembered when the token was verified before (VerifiedTokens.remember). */
  #remember(token: string, claims: JWTPayload, now: number): T {
    const value = this.#build(claims);
    const { iat, nbf, exp } = claims;
    // Only the time claims are kept beside the value: the claims themselves are let go.
    this.#verified.remember(
      token,
      { times: { iat, nbf, exp }, value },
      Math.min(acceptedUntilMs(claims, RULES), now + CACHE_TTL_MS),
    );
    return value;
  }
}
