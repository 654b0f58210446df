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

/**
 * One-shot work whose callback may still create a resource after `close` resolved: a `process.nextTick`, a DNS
 * lookup (`listen(0, 'localhost')` resolves the name first, `listen(0, '127.0.0.1')` waits a tick), a connect, a
 * file system request. Each is destroyed (for async_hooks) once its callback has run; the check waits for those
 * begun since the watch started, so that what their callbacks create is counted here and not blamed on whatever
 * runs next. Not crypto jobs: a synchronous one (`randomBytes(16)`, as bcrypt salts) is destroyed only at garbage
 * collection; nor writes, which may wait on a slow peer for as long as it likes.
 */
const PENDING = new Set([
  'TickObject',
  'GETADDRINFOREQWRAP',
  'GETNAMEINFOREQWRAP',
  'QUERYWRAP',
  'TCPCONNECTWRAP',
  'PIPECONNECTWRAP',
  'FSREQCALLBACK',
  'FSREQPROMISE',
]);

/**
 * How long the check always waits before concluding, even when nothing is left: time for ticks, microtask chains
 * and immediates begun during `close` to run, and for what they start (a lookup, a listen) to be seen.
 */
const MIN_SETTLE_MS = 25;
/** How often the check looks again while something is left or pending. */
const POLL_MS = 20;

interface Tracked {
  readonly type: string;
  readonly resource: object;
  /** Created after {@link ResourceWatch.checkFromNow}: counted by the check (else only released on failure). */
  readonly checked: boolean;
}

/** Resources followed since {@link watchResources} was called. */
export interface ResourceWatch {
  /**
   * Once the work begun so far has settled (as {@link assertNoneLeft} waits for it), what was created until then (a
   * warm-up run's lazy singletons, and what its late callbacks made) is not counted by {@link assertNoneLeft}; it is
   * only released with the rest (`unref`) when the check fails, so that a failing run can still end.
   */
  checkFromNow(settleMs?: number): Promise<void>;
  /**
   * Stops following, after waiting at least a short settle and, up to `settleMs`, for the work begun meanwhile to
   * finish and the resources created meanwhile to go (a socket finishing its close, a timer about to fire, a
   * lookup whose callback listens); throws naming those still keeping the event loop alive. Before throwing it
   * `unref`s every followed resource still holding the loop (directly or through its `owner`), so that the test
   * run can end and report the failure rather than hang.
   */
  assertNoneLeft(what: string, settleMs?: number): Promise<void>;
  /** Stops following without checking (when the run failed before the check); idempotent. */
  stop(): void;
  /**
   * Stops following and `unref`s whatever followed resource still holds the event loop, without judging it: for a
   * whole run of cases, whose other cases start the plugin again, so that a leak they repeat cannot keep the run
   * from ending once its lifecycle case has reported it.
   */
  releaseAll(): void;
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

/** Lets a leaked resource stop holding the event loop: its own `unref`, or its owner's (a server, a socket). */
function release(resource: object): void {
  for (const candidate of [resource, (resource as { owner?: unknown }).owner]) {
    const unref = (candidate as { unref?: unknown } | undefined)?.unref;
    if (typeof candidate === 'object' && candidate !== null && typeof unref === 'function') {
      try {
        unref.call(candidate);
      } catch {
        // A handle already closing may refuse; the next candidate may still do.
      }
    }
  }
}

/** Starts following every resource created from now on until it is destroyed. */
export function watchResources(): ResourceWatch {
  const alive = new Map<number, Tracked>();
  const pending = new Set<number>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (WATCHED.has(type)) alive.set(id, { type, resource, checked: true });
      else if (PENDING.has(type)) pending.add(id);
    },
    destroy(id) {
      alive.delete(id);
      pending.delete(id);
    },
  }).enable();
  const holding = () => [...alive.values()].filter(keepsAlive);
  const left = () => {
    const counts = new Map<string, number>();
    for (const { type, checked } of holding()) {
      if (checked) counts.set(type, (counts.get(type) ?? 0) + 1);
    }
    return [...counts].map(([type, count]) => `${count} × ${type}`);
  };
  /** Waits {@link MIN_SETTLE_MS}, then while work is pending or `unsettled()`, until `settleMs` in all. */
  const settle = async (settleMs: number, unsettled: () => boolean) => {
    const deadline = Date.now() + Math.max(settleMs, MIN_SETTLE_MS);
    await sleep(MIN_SETTLE_MS);
    while ((pending.size > 0 || unsettled()) && Date.now() < deadline) await sleep(POLL_MS);
  };
  return {
    async checkFromNow(settleMs = 1000) {
      await settle(settleMs, () => false);
      for (const [id, tracked] of alive) alive.set(id, { ...tracked, checked: false });
    },
    async assertNoneLeft(what, settleMs = 1000) {
      try {
        await settle(settleMs, () => left().length > 0);
        const remaining = left();
        if (remaining.length > 0) {
          for (const { resource } of holding()) release(resource);
          throw new Error(`${what} left resources keeping the event loop alive: ${remaining.join(', ')}`);
        }
      } finally {
        hook.disable();
      }
    },
    stop() {
      hook.disable();
    },
    releaseAll() {
      hook.disable();
      for (const { resource } of holding()) release(resource);
    },
  };
}
