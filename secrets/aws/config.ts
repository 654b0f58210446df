/** `secrets.providers.aws` after validation. */
export interface AwsProviderConfig {
  enabled: boolean;
  endpoint_url?: string;
}
