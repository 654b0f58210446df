/** `secrets.providers.vault` after validation. */
export interface VaultProviderConfig {
  enabled: boolean;
  address?: string;
  auth_method: 'token' | 'kubernetes' | 'approle';
  role?: string;
  mount: string;
  token?: string;
  namespace?: string;
}
