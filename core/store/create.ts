import { quoteValue } from '../config/describe-value.ts';
import type { Locator } from '../config/locate.ts';
import type { RootConfig } from '../config/types.ts';
import { ConfigError, type LocatedIssue } from '../errors.ts';
import type { Logger } from '../log.ts';
import { MemoryStore } from './memory.ts';
import { openRedisStore } from './redis.ts';
import { credentialProblems, type StaticToken, StaticTokenStore } from './static.ts';
import type { AuthenticationStore } from './types.ts';

interface TokenBlock {
  enabled?: boolean;
  storage?: { tokens?: Record<string, { credential: string; metadata?: Record<string, string> }> };
}

/**
 * The static tokens of an enabled token method, checked again now that their credentials are resolved: a
 * secret that turned out empty, or two tokens whose secrets resolve to the same value, are refused without
 * saying what the value is.
 */
export function staticTokens(config: RootConfig, locator?: Locator): StaticToken[] {
  const block = config.authentication.methods.token as TokenBlock | undefined;
  if (block?.enabled !== true) return [];
  const tokens = Object.entries(block.storage?.tokens ?? {}).map(([name, token]) => ({
    name,
    credential: token.credential,
    metadata: token.metadata ?? {},
  }));
  const issues: LocatedIssue[] = credentialProblems(tokens).map((problem) => {
    const path = ['authentication', 'methods', 'token', 'storage', 'tokens', problem.name, 'credential'];
    const at = locator?.source(path, 'value');
    const message =
      'empty' in problem
        ? 'authentication: credential non-empty value is required (the secret it references is empty)'
        : `authentication: credential resolves to the same value as token ${quoteValue(problem.sameAs)}'s; each token needs its own`;
    return { path, message, ...(at && { source: at }) };
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return tokens;
}

/**
 * Opens the authentication store the configuration asks for (memory, or Redis once it answers), wrapped with the
 * static-token overlay when the token method is enabled (Flipt's `getAuthStore`).
 */
export async function createAuthenticationStore(
  config: RootConfig,
  options: { readonly startedAt: Date; readonly log: Logger; readonly locator?: Locator },
): Promise<AuthenticationStore> {
  const { storage } = config.authentication.session;
  const tokens = staticTokens(config, options.locator);
  const store: AuthenticationStore =
    storage.type === 'redis'
      ? await openRedisStore({
          config: storage.redis,
          gracePeriodMs: storage.cleanup.grace_period,
          log: options.log,
        })
      : new MemoryStore({
          gracePeriodMs: storage.cleanup.grace_period,
          cleanupIntervalMs: storage.cleanup.interval,
        });
  return config.authentication.methods.token?.enabled === true
    ? new StaticTokenStore(store, tokens, options.startedAt)
    : store;
}
