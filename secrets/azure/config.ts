/** `secrets.providers.azure` after validation. */
export interface AzureProviderConfig {
  enabled: boolean;
  vault_url?: string;
}
