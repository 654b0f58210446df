import { claimText, goJson, resolvePointer } from '../../core/plugins/kit/index.ts';

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

/** The claims of one login: the ID token's (verified), and those with userinfo's merged over them. */
export interface LoginClaims {
  readonly idToken: Readonly<Record<string, unknown>>;
  /** `idToken` alone, or with userinfo merged over it (`fetch_extra_user_info`). */
  readonly merged: Readonly<Record<string, unknown>>;
}

/**
 * A session's metadata, as Flipt writes it: the provider, each attribute under `io.flipt.auth.oidc.*` (and email,
 * name and picture also under `io.flipt.auth.*`), and every claim as Go-style JSON. Attributes come from the
 * signed ID token; email, name and picture fall back to userinfo's claims when it lacks them. Empty values are
 * left out.
 */
export function sessionMetadata(
  provider: string,
  claims: LoginClaims,
  mapping: Partial<Record<MappedClaim, string>> = {},
): Record<string, string> {
  const read = (from: Readonly<Record<string, unknown>>, attribute: MappedClaim) =>
    claimText(resolvePointer(from, mapping[attribute] ?? DEFAULT_CLAIMS_MAPPING[attribute]));
  const readWithFallback = (attribute: MappedClaim) =>
    nonEmpty(read(claims.idToken, attribute)) ?? read(claims.merged, attribute);
  const metadata: Record<string, string> = { [OIDC_METADATA.provider]: provider };
  const set = (keys: readonly string[], value: string | undefined) => {
    if (value === undefined || value === '') return;
    for (const key of keys) metadata[key] = value;
  };
  set([OIDC_METADATA.email, OIDC_METADATA.consolidatedEmail], readWithFallback('email'));
  set([OIDC_METADATA.emailVerified], claimText(claims.idToken.email_verified));
  set([OIDC_METADATA.name, OIDC_METADATA.consolidatedName], readWithFallback('name'));
  set([OIDC_METADATA.profile], claimText(claims.idToken.profile));
  set([OIDC_METADATA.picture, OIDC_METADATA.consolidatedPicture], readWithFallback('picture'));
  set([OIDC_METADATA.sub], read(claims.idToken, 'sub'));
  // Written last, from the claims as received, so that no claim can stand in for it.
  metadata[OIDC_METADATA.claims] = goJson(claims.merged);
  return metadata;
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === '' ? undefined : text;
}
