import { posix } from 'node:path';
import { isBlank, requiredMessage } from '../../core/config/flipt-messages.ts';
import type { ConfigIssue, MethodPlugin } from '../../core/plugins/contracts.ts';
import { notYetAvailable } from '../../core/plugins/unavailable.ts';
import configSchema from './schema.json' with { type: 'json' };

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

const github: MethodPlugin<GithubConfig> = {
  kind: 'method',
  name: 'github',
  method: 'METHOD_GITHUB',
  sessionCompatible: true,
  configSchema,
  validate(config) {
    const issues: ConfigIssue[] = [];
    for (const field of ['client_id', 'client_secret', 'redirect_address'] as const) {
      if (isBlank(config[field]))
        issues.push({ path: [field], message: requiredMessage('authentication', field) });
    }
    if (config.allowed_organizations.length > 0 && !config.scopes.includes('read:org')) {
      issues.push({
        path: ['scopes'],
        message: 'authentication: scopes must contain read:org when allowed_organizations is not empty',
      });
    }
    for (const org of Object.keys(config.allowed_teams)) {
      if (config.allowed_organizations.includes(org)) continue;
      // Flipt (issue #4428) gives a key that matches an allowed organisation but for case that organisation's
      // spelling; so does this, so that the login flow sees one spelling.
      const declared = config.allowed_organizations.find(
        (allowed) => allowed.toLowerCase() === org.toLowerCase(),
      );
      if (declared !== undefined && config.allowed_teams[declared] === undefined) {
        config.allowed_teams[declared] = config.allowed_teams[org] as string[];
        delete config.allowed_teams[org];
        continue;
      }
      issues.push({
        path: ['allowed_teams', org],
        message: `authentication: allowed_teams the organization '${org}' was not declared in 'allowed_organizations' field`,
      });
    }
    return issues;
  },
  info(_config, { prefix }) {
    return {
      authorize_url: posix.join(prefix, '/auth/v1/method/github/authorize'),
      callback_url: posix.join(prefix, '/auth/v1/method/github/callback'),
    };
  },
  redirectAddresses(config) {
    return [config.redirect_address ?? ''];
  },
  create() {
    return notYetAvailable('authentication method "github"');
  },
};

export default github;
