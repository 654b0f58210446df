/** `secrets.providers.azure` after validation. */
export interface AzureProviderConfig {
  enabled: boolean;
  vault_url?: string;
  /** portcullis: a PEM bundle trusted for `vault_url` instead of Node's default CAs. */
  ca_cert_path?: string;
}
