import type { ConfigIssue } from '../../core/plugins/kit/index.ts';
import {
  defineMethod,
  formatGoDuration,
  isSecretReference,
  quoteValue,
} from '../../core/plugins/kit/index.ts';
import { bootstrap } from './bootstrap.ts';
import type { TokenConfig } from './config.ts';
import { tokenRoutes } from './routes.ts';
import configSchema from './schema.json' with { type: 'json' };
import { credentialIssues, staticClientTokens } from './static-tokens.ts';

export type { TokenConfig } from './config.ts';

export default defineMethod<typeof configSchema, TokenConfig>({
  name: 'token',
  method: 'METHOD_TOKEN',
  methodNumber: 1,
  sessionCompatible: false,
  configSchema,
  validate(config) {
    const issues: ConfigIssue[] = [];
    // A reference is checked once resolved: the credential checks in create() run on the resolved block.
    if (config.storage.type !== 'static' && !isSecretReference(config.storage.type)) {
      issues.push({
        path: ['storage', 'type'],
        message: `storage type: authentication.method.token.storage.type unexpected type: ${quoteValue(config.storage.type)}`,
      });
    }
    // Flipt accepts an empty credential (then "Bearer " alone authenticates) and two tokens with one
    // credential (then which identity a request gets is arbitrary); both are refused here.
    // The same text (a literal, or the same ${secret:...} reference) gives the same credential; references that
    // differ here but resolve alike are caught after resolution, in create(), by the same check.
    const tokens = Object.entries(config.storage.tokens).map(([name, { credential }]) => ({
      name,
      credential,
    }));
    issues.push(...credentialIssues(tokens, false));
    if (config.bootstrap.expiration !== undefined && config.bootstrap.expiration <= 0) {
      issues.push({
        path: ['bootstrap', 'expiration'],
        message: `authentication: bootstrap expiration must be a positive duration; got ${formatGoDuration(config.bootstrap.expiration)}`,
      });
    }
    return issues;
  },
  async create(ctx, config) {
    const tokens = Object.entries(config.storage.tokens).map(([name, token]) => ({
      name,
      credential: token.credential,
      metadata: token.metadata ?? {},
    }));
    // A secret that turned out empty, or two references resolving to one value, are refused without the value.
    const problems = credentialIssues(tokens, true);
    if (config.storage.type !== 'static') {
      problems.unshift({
        path: ['storage', 'type'],
        message:
          'storage type: authentication.method.token.storage.type unexpected type (the secret it references is not "static")',
      });
    }
    if (problems.length > 0) ctx.configError(problems);
    const clientTokens = staticClientTokens(tokens, ctx.now());
    if (!ctx.root.authentication.required) {
      ctx.log.warn(
        'authentication.required is false, so anyone can create tokens with POST /auth/v1/method/token (as in Flipt v1)',
      );
    }
    await bootstrap(ctx, config.bootstrap);
    return {
      routes: tokenRoutes(ctx),
      clientTokens,
      identity: (authentication) => ({ email: authentication.metadata['io.flipt.auth.email'] }),
    };
  },
});
