import type { MappedClaim } from './claims.ts';

/** One entry of `authentication.methods.oidc.providers` after validation. */
export interface OidcProviderConfig {
  issuer_url?: string;
  discovery_url?: string;
  client_id?: string;
  client_secret?: string;
  redirect_address?: string;
  scopes: string[];
  use_pkce: boolean;
  algorithms: string[];
  fetch_extra_user_info: boolean;
  authorize_parameters: Record<string, string>;
  use_end_session_endpoint: boolean;
  allow_front_channel_logout: boolean;
  ca_path?: string;
  claims_mapping?: Partial<Record<MappedClaim, string>>;
}

/** `authentication.methods.oidc` after validation (`cache_ttl` in milliseconds). */
export interface OidcConfig {
  enabled: boolean;
  email_matches: string[];
  cache_ttl: number;
  providers: Record<string, OidcProviderConfig>;
}
