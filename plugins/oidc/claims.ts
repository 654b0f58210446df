import { claimText, resolvePointer } from '../../core/auth/claims.ts';
import { goJson } from '../../core/auth/json.ts';

/** The user attributes a provider's `claims_mapping` may point elsewhere. */
export type MappedClaim = 'email' | 'name' | 'picture' | 'sub';

/** Where each attribute is read from by default: the standard OpenID Connect claims. */
export const DEFAULT_CLAIMS_MAPPING: Readonly<Record<MappedClaim, string>> = {
  email: '/email',
  name: '/name',
  picture: '/picture',
  sub: '/sub',
};

/** Flipt's metadata keys for OIDC sessions (reference §4.9). */
export const OIDC_METADATA = {
  provider: 'io.flipt.auth.oidc.provider',
  email: 'io.flipt.auth.oidc.email',
  emailVerified: 'io.flipt.auth.oidc.email_verified',
  name: 'io.flipt.auth.oidc.name',
  profile: 'io.flipt.auth.oidc.profile',
  picture: 'io.flipt.auth.oidc.picture',
  sub: 'io.flipt.auth.oidc.sub',
  consolidatedEmail: 'io.flipt.auth.email',
  consolidatedName: 'io.flipt.auth.name',
  consolidatedPicture: 'io.flipt.auth.picture',
  claims: 'io.flipt.auth.claims',
} as const;

/**
 * A session's metadata from the user's claims (the ID token's, with userinfo's merged over them), as Flipt
 * writes it: the provider, each attribute under `io.flipt.auth.oidc.*` (and email, name and picture also under
 * `io.flipt.auth.*`), and every claim as Go-style JSON. Empty values are left out.
 */
export function sessionMetadata(
  provider: string,
  claims: Readonly<Record<string, unknown>>,
  mapping: Partial<Record<MappedClaim, string>> = {},
): Record<string, string> {
  const read = (attribute: MappedClaim) =>
    claimText(resolvePointer(claims, mapping[attribute] ?? DEFAULT_CLAIMS_MAPPING[attribute]));
  const metadata: Record<string, string> = { [OIDC_METADATA.provider]: provider };
  const set = (keys: readonly string[], value: string | undefined) => {
    if (value === undefined || value === '') return;
    for (const key of keys) metadata[key] = value;
  };
  set([OIDC_METADATA.email, OIDC_METADATA.consolidatedEmail], read('email'));
  const verified = claims.email_verified;
  set([OIDC_METADATA.emailVerified], typeof verified === 'boolean' ? String(verified) : claimText(verified));
  set([OIDC_METADATA.name, OIDC_METADATA.consolidatedName], read('name'));
  set([OIDC_METADATA.profile], claimText(claims.profile));
  set([OIDC_METADATA.picture, OIDC_METADATA.consolidatedPicture], read('picture'));
  set([OIDC_METADATA.sub], read('sub'));
  // Written last, from the claims as received, so that no claim can stand in for it.
  metadata[OIDC_METADATA.claims] = goJson(claims);
  return metadata;
}
