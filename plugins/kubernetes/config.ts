/** `authentication.methods.kubernetes` after validation. */
export interface KubernetesConfig {
  enabled: boolean;
  discovery_url: string;
  ca_path: string;
  service_account_token_path: string;
  /** portcullis: namespaces whose service accounts are accepted (all when both lists are empty). */
  allowed_namespaces: string[];
  /** portcullis: service accounts accepted, as `<namespace>/<name>`. */
  allowed_service_accounts: string[];
  /** portcullis: audiences a token must carry one of (none required when empty, as in Flipt). */
  audiences: string[];
}
