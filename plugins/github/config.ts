/** `authentication.methods.github` after validation. */
export interface GithubConfig {
  enabled: boolean;
  server_url: string;
  api_url?: string;
  client_id?: string;
  client_secret?: string;
  redirect_address?: string;
  scopes: string[];
  allowed_organizations: string[];
  allowed_teams: Record<string, string[]>;
  use_pkce: boolean;
}

/** github.com's REST API, Flipt's default `api_url`. */
export const GITHUB_API = 'https://api.github.com';
export const GITHUB_SERVER = 'https://github.com';

/**
 * Where the REST API is: `api_url` when set; for github.com, api.github.com; for any other `server_url` (GitHub
 * Enterprise Server), `<server_url>/api/v3`, where Enterprise always serves it (Flipt would call api.github.com).
 */
export function apiBase(config: Pick<GithubConfig, 'server_url' | 'api_url'>): string {
  const server = config.server_url.replace(/\/+$/, '');
  if (config.api_url !== undefined && config.api_url !== '') return config.api_url.replace(/\/+$/, '');
  return server === GITHUB_SERVER ? GITHUB_API : `${server}/api/v3`;
}
