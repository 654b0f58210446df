import { posix } from 'node:path';
import type { ConfigIssue } from '../../core/plugins/kit/index.ts';
import {
  defineMethod,
  isBlank,
  isHttpUrl,
  isSecretReference,
  quoteValue,
  requiredMessage,
  valueText,
} from '../../core/plugins/kit/index.ts';
import type { GithubConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { GithubConfig } from './config.ts';

export default defineMethod<typeof configSchema, GithubConfig>({
  name: 'github',
  method: 'METHOD_GITHUB',
  methodNumber: 4,
  sessionCompatible: true,
  configSchema,
  validate(config) {
    const issues: ConfigIssue[] = [];
    for (const field of ['client_id', 'client_secret', 'redirect_address'] as const) {
      if (isBlank(config[field]))
        issues.push({ path: [field], message: requiredMessage('authentication', field) });
    }
    // Flipt parses these only when a login needs them; a typo then fails every login.
    for (const field of ['redirect_address', 'server_url', 'api_url'] as const) {
      const value = config[field];
      if (!isBlank(value) && !isSecretReference(value as string) && !isHttpUrl(value as string)) {
        issues.push({
          path: [field],
          message: `authentication: ${field} must be an absolute http(s) URL; got ${quoteValue(value as string)}`,
        });
      }
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
        message: `authentication: allowed_teams the organization '${valueText(org)}' was not declared in 'allowed_organizations' field`,
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
  async create(ctx, config) {
    const { githubRoutes } = await import('./routes.ts');
    return {
      routes: githubRoutes(ctx, config),
      identity: (authentication) => ({
        user: authentication.metadata['io.flipt.auth.github.preferred_username'],
        email: authentication.metadata['io.flipt.auth.email'],
      }),
    };
  },
});
