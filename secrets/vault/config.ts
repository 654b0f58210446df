/** `secrets.providers.vault` after validation. */
export interface VaultProviderConfig {
  enabled: boolean;
  address?: string;
  auth_method: 'token' | 'kubernetes' | 'approle';
  role?: string;
  mount: string;
  token?: string;
  namespace?: string;
  /** portcullis: where the kubernetes method reads the pod's service-account token (read again at each login). */
  service_account_token_path: string;
}
