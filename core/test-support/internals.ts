/**
 * Core internals that plugin tests drive directly (a logger to read output from, a store to inspect, Redis key
 * names), so that `plugins/**` and `secrets/**` tests need no import into `core/` beyond the kit, the package entry
 * and test support. Plugin code itself may import only the kit (biome's noRestrictedImports).
 */
export { createLogger, SecretScrubber } from '../log.ts';
export { MemoryStore } from '../store/memory.ts';
export { redisKeys } from '../store/redis.ts';
