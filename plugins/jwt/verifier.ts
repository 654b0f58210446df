import { type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from 'jose';
import { effectiveExpiryMs, JWT_LEEWAY_S, timeClaimsProblem } from '../../core/auth/jwt-claims.ts';
import { VerifiedTokens } from '../../core/auth/verified-tokens.ts';
import { errorCode } from '../../core/errors.ts';

/** The algorithms Flipt accepts for JWTs: no HMAC (the key is public), no RS384, ES384 or PSS. */
export const JWT_ALGORITHMS = ['RS256', 'RS512', 'ES256', 'ES512', 'EdDSA'];
/** Longer tokens are refused before any parsing: real ones are a few KiB. */
export const MAX_JWT_BYTES = 16 * 1024;
/** How many verified tokens are remembered, and for how long at most (a removed key stops working by then). */
const CACHE_ENTRIES = 10_000;
const CACHE_TTL_MS = 5 * 60 * 1000;

/**
 * `jwtVerify` against a key set, trying each key when several fit a token without `kid` (jose hands them over in
 * its JWKSMultipleMatchingKeys error rather than trying them itself).
 */
async function verifyWithKeySet(
  token: string,
  keys: JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keys, options)).payload;
  } catch (error) {
    if (errorCode(error) !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw error;
    let last: unknown = error;
    for await (const key of error as AsyncIterable<Parameters<typeof jwtVerify>[1]>) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (failure) {
        last = failure;
      }
    }
    throw last;
  }
}

/** The claim rules of `validate_claims`. */
export interface ClaimRules {
  readonly issuer?: string;
  readonly subject?: string;
  readonly audiences: readonly string[];
}

/**
 * Verifies JWTs as Flipt's jwt method does: signature with the configured keys and Flipt's algorithms, then
 * `validate_claims`, then hashicorp/cap's time rules. Verified tokens are remembered (by hash, never past their
 * expiry), so a client that sends the same token with every request pays for one verification.
 */
export class JwtVerifier {
  readonly #keys: JWTVerifyGetKey;
  readonly #rules: ClaimRules;
  readonly #now: () => number;
  readonly #verified = new VerifiedTokens<JWTPayload>(CACHE_ENTRIES);

  constructor(keys: JWTVerifyGetKey, rules: ClaimRules, now: () => number = Date.now) {
    this.#keys = keys;
    this.#rules = rules;
    this.#now = now;
  }

  async verify(token: string): Promise<JWTPayload> {
    if (Buffer.byteLength(token) > MAX_JWT_BYTES) throw new Error(`token longer than ${MAX_JWT_BYTES} bytes`);
    const key = VerifiedTokens.key(token);
    const now = this.#now();
    const cached = this.#verified.get(key, now);
    if (cached !== undefined && timeClaimsProblem(cached, now) === undefined) return cached;

    const { issuer, subject, audiences } = this.#rules;
    const payload = await verifyWithKeySet(token, this.#keys, {
      algorithms: JWT_ALGORITHMS,
      clockTolerance: JWT_LEEWAY_S,
      currentDate: new Date(now),
      ...(issuer !== undefined && issuer !== '' && { issuer }),
      ...(subject !== undefined && subject !== '' && { subject }),
      ...(audiences.length > 0 && { audience: [...audiences] }),
    });
    const problem = timeClaimsProblem(payload, now);
    if (problem !== undefined) throw new Error(problem);
    this.#verified.set(key, payload, Math.min(effectiveExpiryMs(payload), now + CACHE_TTL_MS));
    return payload;
  }
}
