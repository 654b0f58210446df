import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { isBlank, requiredMessage } from '../../core/config/flipt-messages.ts';
import { errorMessage } from '../../core/errors.ts';
import type { ConfigIssue, MethodPlugin } from '../../core/plugins/contracts.ts';
import { notYetAvailable } from '../../core/plugins/unavailable.ts';
import configSchema from './schema.json' with { type: 'json' };

/** One entry of `authentication.methods.oidc.providers` after validation. */
export interface OidcProviderConfig {
  issuer_url?: string;
  discovery_url?: string;
  client_id?: string;
  client_secret?: string;
  redirect_address?: string;
  scopes: string[];
  use_pkce: boolean;
  algorithms: string[];
  fetch_extra_user_info: boolean;
  authorize_parameters: Record<string, string>;
  use_end_session_endpoint: boolean;
  allow_front_channel_logout: boolean;
  ca_path?: string;
  claims_mapping?: Partial<Record<'email' | 'name' | 'picture' | 'sub', string>>;
}

/** `authentication.methods.oidc` after validation. */
export interface OidcConfig {
  enabled: boolean;
  email_matches: string[];
  cache_ttl: number;
  providers: Record<string, OidcProviderConfig>;
}

const oidc: MethodPlugin<OidcConfig> = {
  kind: 'method',
  name: 'oidc',
  method: 'METHOD_OIDC',
  sessionCompatible: true,
  configSchema,
  validate(config, root) {
    const issues: ConfigIssue[] = [];
    // Flipt compiles these with Go's RE2 only at start-up, and only when authentication is required. re2js is
    // required here rather than imported, so that listing methods does not load it when oidc is off.
    const { RE2JS } = createRequire(import.meta.url)('re2js') as typeof import('re2js');
    config.email_matches.forEach((pattern, index) => {
      try {
        RE2JS.compile(pattern);
      } catch (error) {
        issues.push({
          path: ['email_matches', index],
          message: `failed compiling string for pattern: ${pattern}: ${errorMessage(error)}`,
        });
      }
    });
    for (const [name, provider] of Object.entries(config.providers)) {
      for (const field of ['client_id', 'client_secret', 'redirect_address'] as const) {
        if (isBlank(provider[field])) {
          issues.push({
            path: ['providers', name, field],
            message: requiredMessage('authentication', field),
          });
        }
      }
      if (!isBlank(provider.discovery_url) && isBlank(provider.issuer_url)) {
        issues.push({
          path: ['providers', name, 'issuer_url'],
          message: 'authentication: issuer_url non-empty value is required when discovery_url is set',
        });
      }
      if (provider.allow_front_channel_logout && !root.authentication.session.secure) {
        issues.push({
          path: ['providers', name, 'allow_front_channel_logout'],
          message: `authentication: session.secure session secure must be true for provider "${name}": front-channel logout requires SameSite=None cookies which are rejected by browsers unless the Secure flag is set`,
        });
      }
    }
    return issues;
  },
  info(config, { prefix }) {
    const providers: Record<string, { authorize_url: string; callback_url: string }> = {};
    for (const name of Object.keys(config.providers)) {
      providers[name] = {
        authorize_url: posix.join(prefix, `/auth/v1/method/oidc/${name}/authorize`),
        callback_url: posix.join(prefix, `/auth/v1/method/oidc/${name}/callback`),
      };
    }
    return { providers };
  },
  redirectAddresses(config) {
    return Object.values(config.providers).map((provider) => provider.redirect_address ?? '');
  },
  create() {
    return notYetAvailable('authentication method "oidc"');
  },
};

export default oidc;
