/**
 * A real `MethodContext` for a plugin's own unit tests: what portcullis hands `create`, backed by a memory store,
 * the session helpers of a default (or given) configuration, and a logger whose lines are kept, so that an author
 * tests `create`, `authenticate` and `identity` without writing a stand-in for the context.
 */
import { loadConfig } from '../../core/config/load.ts';
import type { RootConfig } from '../../core/config/types.ts';
import { createSessionHelpers } from '../../core/http/cookies.ts';
import { createLogger, SecretScrubber } from '../../core/log.ts';
import type { AuditRecord, AuditRecorder } from '../../core/observe/audit/record.ts';
import { observedSession } from '../../core/observe/logins.ts';
import { Metrics } from '../../core/observe/metrics.ts';
import { createMethodContext } from '../../core/plugins/context.ts';
import type { MethodContext, MethodStore } from '../../core/plugins/contracts.ts';
import { MemoryStore } from '../../core/store/memory.ts';

/** What {@link methodTestContext} gives. */
export interface TestMethodContext {
  /** Hand this to the plugin's `create`. */
  readonly ctx: MethodContext;
  /** Every log line the plugin wrote through `ctx.log`, parsed (`msg`, `level`, `plugin` and its fields). */
  readonly logs: Array<Record<string, unknown>>;
  /** The store behind `ctx.store`, to look at what the plugin created. */
  readonly store: MethodStore;
  /** The validated configuration `ctx.root` holds. */
  readonly root: RootConfig;
  /** What `/metrics` would show of what the plugin recorded through `ctx.metrics` (Prometheus text format). */
  metrics(): Promise<string>;
  /**
   * The audit events the plugin caused, in order, before the stream stamps them (`type`, `action`, `status`,
   * `actor`, `payload`): its own (`ctx.audit.record` → `plugin:<action>`), `login:succeeded` from
   * `ctx.session.completeLogin`, `logout:<kind>` from `ctx.session.recordLogout`. (`login:refused` needs the
   * route's answer, which only a running portcullis sees.) Since kit 1.3.0.
   */
  readonly audits: AuditRecord[];
  /** Releases what the context opened (the pools of `ctx.createFetch`, the store's timers). Call after the instance's `close`. */
  close(): Promise<void>;
}

/**
 * Builds a context for the method `name` (default `test`). `root` is a configuration as an operator writes it
 * (e.g. `{ authentication: { session: { domain: 'localhost' } } }`), validated with portcullis's own rules (the
 * plugin's block is not needed); `now` replaces the clock of `ctx.now()` and of the session helpers.
 *
 * @throws `ERR_CONFIG_INVALID` when `root` is not a valid configuration.
 */
export async function methodTestContext(
  options: {
    readonly name?: string;
    readonly root?: Record<string, unknown>;
    readonly now?: () => Date;
  } = {},
): Promise<TestMethodContext> {
  const { config } = await loadConfig({ object: options.root ?? {}, env: {} });
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({ ...config.log, encoding: 'json', file: undefined }, new SecretScrubber(), {
    write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  // Every line, down to trace (below the levels a configuration can name), so that a secret logged at debug is seen;
  // set before the plugin's child logger is made, which takes the level it has then.
  log.level = 'trace';
  const store = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });
  const now = options.now ?? (() => new Date());
  const name = options.name ?? 'test';
  // The metrics `ctx.metrics` records into, with portcullis's own rules (names, labels, bounds).
  const metrics = new Metrics();
  // Every event kept, whatever a configuration's filters would say.
  const audits: AuditRecord[] = [];
  const audit: AuditRecorder = {
    wants: () => true,
    record: (record) => audits.push(record),
    rateLimited: () => undefined,
  };
  const session = observedSession(
    createSessionHelpers(config.authentication.session, { store, now }),
    `METHOD_${name.toUpperCase()}`,
    metrics,
    audit,
  );
  const handle = createMethodContext({
    name,
    log,
    config,
    store,
    session,
    metrics: metrics.forPlugin(name, log),
    audit,
  });
  return {
    ctx: { ...handle.context, now },
    logs,
    store,
    root: config,
    metrics: async () => (await metrics.exposition()).body,
    audits,
    async close() {
      await handle.release();
      await store.close();
    },
  };
}
