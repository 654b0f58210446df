import type { JwtAttribute } from '../../core/plugins/kit/index.ts';

/** `authentication.methods.jwt` after validation. */
export interface JwtConfig {
  enabled: boolean;
  jwks_url?: string;
  public_key_file?: string;
  validate_claims: { issuer?: string; subject?: string; audiences: string[] };
  claims_mapping: Partial<Record<JwtAttribute, string>>;
}
