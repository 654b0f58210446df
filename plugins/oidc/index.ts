import { statSync } from 'node:fs';
import { posix } from 'node:path';
import type { ConfigIssue, MethodInstance } from '../../core/plugins/kit/index.ts';
import {
  defineMethod,
  ErrorCodes,
  fieldMessage,
  isBlank,
  isSecretReference,
  MAX_NAMED_FILE_BYTES,
  mentioning,
  quoteValue,
  readTextFileLimited,
  requiredMessage,
  statFailure,
  valueText,
} from '../../core/plugins/kit/index.ts';
import { OIDC_METADATA } from './claims.ts';
import type { OidcConfig } from './config.ts';
import { compileEmailRule, emailPatternProblems } from './email.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { OidcConfig, OidcProviderConfig } from './config.ts';

/** Flipt's discovery cache lifetime when `cache_ttl` is zero or negative. */
const DEFAULT_CACHE_TTL_MS = 15 * 60 * 1000;

export default defineMethod<typeof configSchema, OidcConfig>({
  name: 'oidc',
  method: 'METHOD_OIDC',
  methodNumber: 2,
  sessionCompatible: true,
  configSchema,
  validate(config, root) {
    const issues: ConfigIssue[] = emailPatternProblems(config.email_matches).map((problem) => ({
      path: ['email_matches', problem.index],
      message: problem.message,
    }));
    for (const [name, provider] of Object.entries(config.providers)) {
      // Flipt does not check issuer_url, and then fails every login; we say so at start-up.
      for (const field of ['issuer_url', 'client_id', 'client_secret', 'redirect_address'] as const) {
        if (isBlank(provider[field])) {
          issues.push({
            path: ['providers', name, field],
            message: requiredMessage('authentication', field),
          });
        }
      }
      if (provider.ca_path !== undefined && !isSecretReference(provider.ca_path)) {
        try {
          statSync(provider.ca_path);
        } catch (error) {
          issues.push({
            path: ['providers', name, 'ca_path'],
            message: fieldMessage('authentication', 'ca_path', statFailure(provider.ca_path, error)),
          });
        }
      }
      if (provider.allow_front_channel_logout && !root.authentication.session.secure) {
        issues.push({
          path: ['providers', name, 'allow_front_channel_logout'],
          message: `authentication: session.secure session secure must be true for provider ${quoteValue(name)}: front-channel logout requires SameSite=None cookies which are rejected by browsers unless the Secure flag is set`,
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
  async create(ctx, config) {
    // openid-client and jose load only when the method runs, not when GET /auth/v1/method reads info().
    const [{ OidcProvider }, { oidcRoutes }] = await Promise.all([
      import('./provider.ts'),
      import('./routes.ts'),
    ]);
    const cacheTtlMs = config.cache_ttl > 0 ? config.cache_ttl : DEFAULT_CACHE_TTL_MS;
    const providers = new Map<string, InstanceType<typeof OidcProvider>>();
    for (const [name, provider] of Object.entries(config.providers)) {
      const fetch =
        provider.ca_path === undefined
          ? ctx.fetch
          : ctx.createFetch({ ca: await readCa(name, provider.ca_path) });
      providers.set(name, new OidcProvider(name, provider, { fetch, cacheTtlMs, log: ctx.log }));
    }
    const emailRule = compileEmailRule(config.email_matches);

    const instance: MethodInstance = {
      routes: oidcRoutes(ctx, providers, emailRule),
      async endSession(_authentication, facts) {
        const provider = facts.provider === undefined ? undefined : providers.get(facts.provider);
        if (
          provider === undefined ||
          !provider.config.use_end_session_endpoint ||
          facts.idToken === undefined
        ) {
          return undefined;
        }
        return provider.endSessionUrl(facts.idToken);
      },
      identity: (authentication) => ({
        user: authentication.metadata[OIDC_METADATA.sub],
        email: authentication.metadata[OIDC_METADATA.consolidatedEmail],
      }),
    };
    if (emailRule.active) {
      // As Flipt does on every request: a session whose email no pattern matches is refused.
      instance.admit = (authentication) => {
        if (!emailRule.allows(authentication.metadata[OIDC_METADATA.email])) {
          ctx.error(ErrorCodes.UNAUTHENTICATED, 'email is not allowed', { reason: 'email_not_allowed' });
        }
      };
    }
    return instance;
  },
});

async function readCa(provider: string, path: string): Promise<string> {
  try {
    return await readTextFileLimited(path, MAX_NAMED_FILE_BYTES);
  } catch (error) {
    const reason = mentioning((error as Error).message, path);
    throw new Error(`provider ${quoteValue(provider)}: reading ca_path ${valueText(path)}: ${reason}`);
  }
}
