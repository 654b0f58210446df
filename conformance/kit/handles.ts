/**
 * Leak checks: the timers, sockets, servers, watchers and file handles created while a plugin is created, used
 * and closed, and still keeping the event loop alive afterwards. Resources are followed one by one from their
 * creation (async_hooks), so a resource that something else closes meanwhile cannot hide a new one, as it would
 * in a before/after count of `process.getActiveResourcesInfo()`.
 */
import { createHook } from 'node:async_hooks';

/** Resource types that can keep the event loop alive (async_hooks names). */
const WATCHED = new Set([
  'Timeout',
  'Immediate',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'UDPWRAP',
  'TTYWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
  'PROCESSWRAP',
  'SIGNALWRAP',
  'FILEHANDLE',
]);
// Not TLSWRAP: a TLS wrap keeps nothing alive itself (its TCPWRAP does, and is followed), and async_hooks reports
// its end only when it is garbage collected, long after its socket closed.

interface Tracked {
  readonly type: string;
  readonly resource: object;
}

/** Resources followed since {@link watchResources} was called. */
export interface ResourceWatch {
  /**
   * Stops following, after waiting up to `settleMs` for the resources created meanwhile to go (a socket finishing
   * its close, a timer about to fire); throws naming those still keeping the event loop alive.
   */
  assertNoneLeft(what: string, settleMs?: number): Promise<void>;
}

/** The watch's own waits: they keep the event loop alive while it settles (alone, a run would end), never counted. */
const ownTimers = new WeakSet<object>();
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    ownTimers.add(setTimeout(resolve, ms));
  });

/**
 * Whether a followed resource still keeps the event loop alive. A cleared timer and a closed file handle may be
 * destroyed (for async_hooks) only later, at garbage collection: their own state says whether they are done.
 */
function keepsAlive({ type, resource }: Tracked): boolean {
  if (ownTimers.has(resource)) return false;
  const state = resource as { _destroyed?: unknown; fd?: unknown; hasRef?: unknown };
  if ((type === 'Timeout' || type === 'Immediate') && state._destroyed === true) return false;
  if (type === 'FILEHANDLE') return typeof state.fd === 'number' && state.fd >= 0;
  return typeof state.hasRef === 'function' ? state.hasRef.call(resource) !== false : true;
}

/** Starts following every resource created from now on until it is destroyed. */
export function watchResources(): ResourceWatch {
  const alive = new Map<number, Tracked>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (WATCHED.has(type)) alive.set(id, { type, resource });
    },
    destroy(id) {
      alive.delete(id);
    },
  }).enable();
  const left = () => {
    const counts = new Map<string, number>();
    for (const tracked of alive.values()) {
      if (keepsAlive(tracked)) counts.set(tracked.type, (counts.get(tracked.type) ?? 0) + 1);
    }
    return [...counts].map(([type, count]) => `${count} × ${type}`);
  };
  return {
    async assertNoneLeft(what, settleMs = 1000) {
      try {
        const deadline = Date.now() + settleMs;
        let remaining = left();
        while (remaining.length > 0 && Date.now() < deadline) {
          await sleep(20);
          remaining = left();
        }
        if (remaining.length > 0) {
          throw new Error(`${what} left resources keeping the event loop alive: ${remaining.join(', ')}`);
        }
      } finally {
        hook.disable();
      }
    },
  };
}
