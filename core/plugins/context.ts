import { isReasonId } from '../auth/reasons.ts';
import type { Locator } from '../config/locate.ts';
import type { RootConfig } from '../config/types.ts';
import { ConfigError, ErrorCodes, PluginError, PortcullisError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type AuditRecorder, NO_AUDIT } from '../observe/audit/record.ts';
import { outboundOf } from '../observe/metrics.ts';
import type {
  ConfigIssue,
  MethodAudit,
  MethodContext,
  MethodMetrics,
  MethodStore,
  PluginErrorRaiser,
  SecretContext,
  SessionHelpers,
} from './contracts.ts';
import { type ClosableFetch, createClosableFetch } from './fetch.ts';

/** A member of the context whose implementation has not landed yet: any use fails with a clear error. */
function notReady<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      if (property === 'then') return undefined;
      throw new PortcullisError(
        ErrorCodes.PLUGIN_FAILED,
        `${what} is not available in this version of portcullis`,
      );
    },
  });
}

/** `ctx.error` for one plugin: a coded {@link PluginError} naming it. */
export function errorRaiser(plugin: string): PluginErrorRaiser {
  return (code, message, options) => {
    throw new PluginError(code, message, { plugin, ...options });
  };
}

/**
 * `ctx.configError` for one plugin: its issues, relative to its block at `blockPath`, located in the file (or the
 * environment variable) as `validate` issues are.
 */
function configErrorRaiser(blockPath: readonly string[], locator: Locator | undefined) {
  return (issues: readonly ConfigIssue[]): never => {
    throw new ConfigError(
      issues.map((issue) => {
        const path = [...blockPath, ...issue.path];
        const source = locator?.source(path, 'value');
        return { path, message: issue.message, ...(source && { source }) };
      }),
    );
  };
}

/**
 * `ctx.audit` for the method plugin `plugin`: its records are `plugin:<action>` events with `plugin: <name>` in the
 * payload (the plugin's own `plugin` field, if any, does not replace it).
 */
export function pluginAudit(plugin: string, audit: AuditRecorder): MethodAudit {
  return {
    record(action, event = {}) {
      if (!isReasonId(action)) {
        throw new PluginError(
          ErrorCodes.PLUGIN_FAILED,
          `ctx.audit.record: the action must be a snake_case verb of at most 64 characters, such as "device_registered"; got ${JSON.stringify(String(action)).slice(0, 80)}`,
          { plugin },
        );
      }
      if (!audit.wants('plugin', action)) return;
      audit.record({
        type: 'plugin',
        action,
        status: event.status === 'denied' ? 'denied' : 'success',
        ...(event.actor !== undefined && { actor: event.actor }),
        payload: { ...event.payload, plugin },
      });
    },
  };
}

/** A method's context, and what releases what the runtime opened for it (the pools of its `createFetch`). */
export interface MethodContextHandle {
  readonly context: MethodContext;
  /** Called after the method's own `close`. */
  release(): Promise<void>;
}

/** The context handed to one method plugin's `create`. */
export function createMethodContext(options: {
  readonly name: string;
  readonly log: Logger;
  readonly config: RootConfig;
  readonly store: MethodStore;
  readonly session: SessionHelpers;
  readonly locator?: Locator;
  /** Where `ctx.metrics` counts (`Metrics.forPlugin`); without it, `ctx.metrics` throws `ERR_PLUGIN_FAILED`. */
  readonly metrics?: MethodMetrics;
  /** The runtime's audit stream; none (records dropped) when absent. */
  readonly audit?: AuditRecorder;
}): MethodContextHandle {
  const fetches: ClosableFetch[] = [];
  const opened = (fetch: ClosableFetch) => {
    fetches.push(fetch);
    return fetch.fetch;
  };
  const context: MethodContext = {
    error: errorRaiser(options.name),
    configError: configErrorRaiser(['authentication', 'methods', options.name], options.locator),
    log: options.log.child({ plugin: options.name }),
    store: options.store,
    session: options.session,
    metrics: options.metrics ?? notReady<MethodMetrics>('plugin metrics'),
    audit: pluginAudit(options.name, options.audit ?? NO_AUDIT),
    fetch: opened(createClosableFetch({}, outboundOf(options.metrics))),
    createFetch: (fetchOptions) => opened(createClosableFetch(fetchOptions, outboundOf(options.metrics))),
    now: () => new Date(),
    root: options.config,
  };
  return {
    context,
    async release() {
      await Promise.all(fetches.map((fetch) => fetch.close()));
    },
  };
}

/** The context handed to one secret provider's `create`. */
export function createSecretContext(options: {
  readonly name: string;
  readonly log: Logger;
  /** Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}): SecretContext {
  return {
    error: errorRaiser(options.name),
    log: options.log.child({ plugin: options.name }),
    fetch: globalThis.fetch,
    env: options.env ?? process.env,
    now: () => new Date(),
  };
}
