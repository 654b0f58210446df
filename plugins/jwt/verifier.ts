import type { JWTPayload } from 'jose';
import {
  acceptedUntilMs,
  ErrorCodes,
  type KeySet,
  PluginError,
  TIME_CLAIM_RULES,
  timeClaimsProblem,
  VerifiedTokens,
  verifyJwt,
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

/**
 * Verifies JWTs as Flipt's jwt method does: signature with the configured keys and Flipt's algorithms, then
 * `validate_claims`, then hashicorp/cap's time rules (`TIME_CLAIM_RULES.jwt`). Verified tokens are remembered (by
 * hash, never past their expiry), so a client that sends the same token with every request pays for one
 * verification.
 */
export class JwtVerifier {
  readonly #keys: KeySet;
  readonly #rules: ClaimRules;
  readonly #now: () => number;
  readonly #verified = new VerifiedTokens<JWTPayload>(CACHE_ENTRIES);

  constructor(keys: KeySet, rules: ClaimRules, now: () => number = Date.now) {
    this.#keys = keys;
    this.#rules = rules;
    this.#now = now;
  }

  async verify(token: string): Promise<JWTPayload> {
    if (Buffer.byteLength(token) > MAX_JWT_BYTES) {
      throw new PluginError(ErrorCodes.UNAUTHENTICATED, `token longer than ${MAX_JWT_BYTES} bytes`, {
        reason: 'token_too_long',
      });
    }
    const key = VerifiedTokens.key(token);
    const now = this.#now();
    const cached = this.#verified.get(key, now);
    if (cached !== undefined && timeClaimsProblem(cached, RULES, now) === undefined) return cached;

    const { issuer, subject, audiences } = this.#rules;
    const { payload } = await verifyJwt(token, this.#keys, {
      algorithms: JWT_ALGORITHMS,
      timeRules: RULES,
      now,
      ...(issuer !== undefined && issuer !== '' && { issuer }),
      ...(subject !== undefined && subject !== '' && { subject }),
      ...(audiences.length > 0 && { audience: [...audiences] }),
    });
    this.#verified.set(key, payload, Math.min(acceptedUntilMs(payload, RULES), now + CACHE_TTL_MS));
    return payload;
  }
}
