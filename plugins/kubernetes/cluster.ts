import type { JWTPayload } from 'jose';
// decodeJwt alone (5 small modules; routing needs it synchronously): jose's index is 46 modules.
import { decodeJwt } from 'jose/jwt/decode';
import type { FetchLike, MethodContext } from '../../core/plugins/kit/index.ts';
import {
  acceptedUntilMs,
  assertCompactJws,
  type KeySet,
  MAX_NAMED_FILE_BYTES,
  readTextFileLimited,
  remoteKeySet,
  TIME_CLAIM_RULES,
  VerifiedTokens,
  verifyJwt,
} from '../../core/plugins/kit/index.ts';
import type { KubernetesConfig } from './config.ts';

/** go-oidc's rules: `exp` required and strict, `nbf` up to five minutes ahead. */
const RULES = TIME_CLAIM_RULES.serviceAccount;
/** How long a verified token is remembered at most (its expiry comes first when sooner). */
const VERIFIED_FOR_MS = 5 * 60 * 1000;
/** Service account tokens longer than this are refused unread. */
export const MAX_TOKEN_BYTES = 16 * 1024;
/** What a cluster may sign service account tokens with: asymmetric algorithms only, whatever discovery says. */
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$/;

/** The cluster's service account token issuer, as its API server's discovery describes it. */
export class ClusterIssuer {
  readonly issuer: string;
  readonly #keys: KeySet;
  readonly #algorithms: string[];
  readonly #audiences: string[];
  readonly #now: () => number;
  readonly #verified = new VerifiedTokens<JWTPayload>();

  private constructor(
    issuer: string,
    keys: KeySet,
    algorithms: string[],
    audiences: string[],
    now: () => number,
  ) {
    this.issuer = issuer;
    this.#keys = keys;
    this.#algorithms = algorithms;
    this.#audiences = audiences;
    this.#now = now;
  }

  /**
   * Reads discovery at `<discovery_url>/.well-known/openid-configuration`, trusting only `ca_path` and presenting the
   * pod's own service account token (read again for every request: the kubelet rotates it), as Flipt does at
   * start-up. The issuer is the one discovery names (a cluster's issuer is not its API server's URL).
   */
  static async connect(ctx: MethodContext, config: KubernetesConfig): Promise<ClusterIssuer> {
    let ca: string;
    try {
      ca = await readTextFileLimited(config.ca_path, MAX_NAMED_FILE_BYTES);
    } catch (error) {
      throw new Error(`configuring kubernetes authentication: reading ca_path: ${(error as Error).message}`);
    }
    const fetch = withServiceAccountToken(ctx.createFetch({ ca }), config.service_account_token_path);
    const url = `${config.discovery_url.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let discovery: { issuer?: unknown; jwks_uri?: unknown; id_token_signing_alg_values_supported?: unknown };
    try {
      const response = await fetch(url, { headers: { accept: 'application/json' } });
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
      discovery = (await response.json()) as typeof discovery;
    } catch (error) {
      throw new Error(
        `configuring kubernetes authentication: discovery at ${url}: ${(error as Error).message}`,
      );
    }
    if (typeof discovery.issuer !== 'string' || typeof discovery.jwks_uri !== 'string') {
      throw new Error(`configuring kubernetes authentication: discovery at ${url} has no issuer or jwks_uri`);
    }
    const advertised = Array.isArray(discovery.id_token_signing_alg_values_supported)
      ? discovery.id_token_signing_alg_values_supported.filter(
          (alg): alg is string => typeof alg === 'string' && ASYMMETRIC.test(alg),
        )
      : [];
    return new ClusterIssuer(
      discovery.issuer,
      remoteKeySet(discovery.jwks_uri, fetch),
      advertised.length > 0 ? advertised : ['RS256'],
      config.audiences,
      () => ctx.now().getTime(),
    );
  }

  /**
   * Whether a token says it comes from this cluster (before any verification: for routing only). jose's `decodeJwt`
   * reads leniently (padding, whitespace), which is what routing wants: a malformed token naming this cluster stays
   * this method's, and {@link verify} refuses it saying why, rather than going on to the jwt method.
   */
  claims(token: string): boolean {
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) return false;
    try {
      return decodeJwt(token).iss === this.issuer;
    } catch {
      return false;
    }
  }

  /**
   * Verifies a service account token: signature (the JWKS fetched again when it fails, as go-oidc does), issuer,
   * go-oidc's time rules (`TIME_CLAIM_RULES.serviceAccount`: `exp` required and not past, five minutes of skew on
   * `nbf`), and one of `audiences` when set.
   */
  async verify(token: string): Promise<JWTPayload> {
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES)
      throw new Error(`token longer than ${MAX_TOKEN_BYTES} bytes`);
    const now = this.#now();
    const key = VerifiedTokens.key(token);
    // A token remembered passed every check below with this issuer: a client repeating it pays for none again.
    const cached = this.#verified.get(key, now);
    if (cached !== undefined) return cached;
    // A token that is not a strict compact JWS is refused before it is read at all (decodeJwt takes padding).
    assertCompactJws(token);
    // Said first, as the likeliest mistake (a token of another cluster); the signature check would only say that
    // no key fits.
    if (decodeJwt(token).iss !== this.issuer) throw new Error('the token was not issued by this cluster');
    const { payload } = await verifyJwt(token, this.#keys, {
      issuer: this.issuer,
      algorithms: this.#algorithms,
      timeRules: RULES,
      now,
      ...(this.#audiences.length > 0 && { audience: this.#audiences }),
    });
    this.#verified.set(key, payload, Math.min(acceptedUntilMs(payload, RULES), now + VERIFIED_FOR_MS));
    return payload;
  }
}

/** Adds `Authorization: Bearer <the pod's token>` to requests that carry none, reading the token file each time. */
function withServiceAccountToken(fetch: FetchLike, tokenPath: string): FetchLike {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    if (!headers.has('authorization')) {
      const token = (await readTextFileLimited(tokenPath, MAX_NAMED_FILE_BYTES).catch(() => '')).trim();
      if (token !== '') headers.set('authorization', `Bearer ${token}`);
    }
    return fetch(input, { ...init, headers });
  };
}
