/** `secrets.providers.gcp` after validation. */
export interface GcpProviderConfig {
  enabled: boolean;
  project?: string;
  location?: string;
  credentials?: string;
}
