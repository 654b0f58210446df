import type { RootConfig } from '../config/types.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MethodContext, MethodMetrics, MethodStore, SessionHelpers } from './contracts.ts';
import { createFetch } from './fetch.ts';

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

/** The context handed to one method plugin's `create`. */
export function createMethodContext(options: {
  readonly name: string;
  readonly log: Logger;
  readonly config: RootConfig;
  readonly store: MethodStore;
  readonly session: SessionHelpers;
}): MethodContext {
  return {
    log: options.log.child({ plugin: options.name }),
    store: options.store,
    session: options.session,
    metrics: notReady<MethodMetrics>('plugin metrics'),
    fetch: createFetch(),
    createFetch,
    now: () => new Date(),
    root: options.config,
  };
}
