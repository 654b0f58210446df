import type { RootConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { StoreMetrics } from '../observe/metrics.ts';
import { MemoryStore } from './memory.ts';
import { observeStore } from './observed.ts';
import { openRedisStore } from './redis.ts';
import type { AuthenticationStore } from './types.ts';

/**
 * Opens the authentication store the configuration asks for (memory, or Redis once it answers), its operations
 * counted and timed in `options.metrics` when given. Static tokens are not in it: the token method declares them
 * (`clientTokens`), and the pipeline matches them before the store.
 */
export async function createAuthenticationStore(
  config: RootConfig,
  options: { readonly log: Logger; readonly metrics?: StoreMetrics },
): Promise<AuthenticationStore> {
  const { storage } = config.authentication.session;
  const store =
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
  return options.metrics === undefined ? store : observeStore(store, storage.type, options.metrics);
}
