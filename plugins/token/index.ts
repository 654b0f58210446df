import { quoteValue } from '../../core/config/describe-value.ts';
import { formatGoDuration } from '../../core/config/duration.ts';
import { requiredMessage } from '../../core/config/flipt-messages.ts';
import type { ConfigIssue, MethodPlugin } from '../../core/plugins/contracts.ts';
import { credentialProblems } from '../../core/store/static.ts';
import { tokenRoutes } from './api.ts';
import { bootstrap } from './bootstrap.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `authentication.methods.token` after validation. */
export interface TokenConfig {
  enabled: boolean;
  storage: {
    type: string;
    tokens: Record<string, { credential: string; metadata: Record<string, string> }>;
  };
  bootstrap: { token?: string; expiration?: number };
}

const token: MethodPlugin<TokenConfig> = {
  kind: 'method',
  name: 'token',
  method: 'METHOD_TOKEN',
  sessionCompatible: false,
  configSchema,
  validate(config) {
    const issues: ConfigIssue[] = [];
    if (config.storage.type !== 'static') {
      issues.push({
        path: ['storage', 'type'],
        message: `storage type: authentication.method.token.storage.type unexpected type: ${quoteValue(config.storage.type)}`,
      });
    }
    // Flipt accepts an empty credential (then "Bearer " alone authenticates) and two tokens with one
    // credential (then which identity a request gets is arbitrary); both are refused here.
    // The same text (a literal, or the same ${secret:...} reference) gives the same credential; references that
    // differ here but resolve alike are caught after resolution, by the same check.
    const tokens = Object.entries(config.storage.tokens).map(([name, { credential }]) => ({
      name,
      credential,
    }));
    for (const problem of credentialProblems(tokens)) {
      issues.push({
        path: ['storage', 'tokens', problem.name, 'credential'],
        message:
          'empty' in problem
            ? requiredMessage('authentication', 'credential')
            : `authentication: credential is the same as token ${quoteValue(problem.sameAs)}'s; each token needs its own`,
      });
    }
    if (config.bootstrap.expiration !== undefined && config.bootstrap.expiration <= 0) {
      issues.push({
        path: ['bootstrap', 'expiration'],
        message: `authentication: bootstrap expiration must be a positive duration; got ${formatGoDuration(config.bootstrap.expiration)}`,
      });
    }
    return issues;
  },
  async create(ctx, config) {
    if (!ctx.root.authentication.required) {
      ctx.log.warn(
        'authentication.required is false, so anyone can create tokens with POST /auth/v1/method/token (as in Flipt v1)',
      );
    }
    await bootstrap(ctx, config.bootstrap);
    return { routes: tokenRoutes(ctx) };
  },
};

export default token;
