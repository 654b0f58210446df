import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import type { FetchLike } from '../plugins/contracts.ts';

/** The shortest wait between two JWKS fetches; a token with an unknown `kid` refetches no sooner (key rotation). */
export const JWKS_MIN_INTERVAL_MS = 1_000;
/** The longest wait between two attempts while the JWKS server keeps failing. */
const JWKS_MAX_BACKOFF_MS = 30_000;

/** A JWKS fetch refused because the last attempt was too recent (the key set is not fetched on every request). */
export class JwksCooldownError extends Error {
  readonly code = 'ERR_JWKS_COOLDOWN';
}

/**
 * Keys from a JWKS URL, as jose's remote key set keeps them (fetched on first use, refetched for an unknown `kid`),
 * with every attempt counted, failed ones too: at most one fetch a second, and while the server fails, waits that
 * double up to thirty seconds. So neither a flood of made-up key ids nor a JWKS outage turns into a flood of
 * requests to the JWKS server. A 5xx is an error carrying its `status`, so that callers can tell an outage.
 */
export function remoteKeySet(
  url: string,
  fetch: FetchLike,
  options: { cacheMaxAgeMs?: number } = {},
): JWTVerifyGetKey {
  let nextAttemptAt = 0;
  let backoff = JWKS_MIN_INTERVAL_MS;
  let lastKeys: string | undefined;
  const guarded = async (input: Parameters<FetchLike>[0], init?: RequestInit): Promise<Response> => {
    const now = Date.now();
    if (now < nextAttemptAt) {
      // Too soon to ask again: the keys we have are the answer (a token with an unknown kid then finds none).
      if (lastKeys !== undefined) return Response.json(JSON.parse(lastKeys));
      throw new JwksCooldownError(`the JWKS at ${url} was asked less than ${Math.ceil(backoff / 1000)}s ago`);
    }
    nextAttemptAt = now + backoff;
    try {
      const response = await fetch(input, init);
      if (response.status >= 500) {
        throw Object.assign(new Error(`${url} answered ${response.status}`), { status: response.status });
      }
      const body = await response.text();
      if (response.status === 200) lastKeys = body;
      backoff = JWKS_MIN_INTERVAL_MS;
      nextAttemptAt = Date.now() + backoff;
      return new Response(body, { status: response.status, headers: response.headers });
    } catch (error) {
      backoff = Math.min(backoff * 2, JWKS_MAX_BACKOFF_MS);
      nextAttemptAt = Date.now() + backoff;
      throw error;
    }
  };
  return createRemoteJWKSet(new URL(url), {
    [customFetch]: guarded as typeof globalThis.fetch,
    // Our own limit (above) decides when to fetch again; jose's would only count successful fetches.
    cooldownDuration: 0,
    ...(options.cacheMaxAgeMs !== undefined && { cacheMaxAge: options.cacheMaxAgeMs }),
  });
}
