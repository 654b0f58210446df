/** `secrets.providers.file` after validation. */
export interface FileProviderConfig {
  enabled: boolean;
  base_path: string;
}
