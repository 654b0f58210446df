import { errorMessage, type SecretFailure } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SecretMetrics } from '../observe/metrics.ts';
import type { SecretSource } from '../plugins/contracts.ts';
import { fetchReferences, type ReferenceUse } from './resolve.ts';

/** The references in use, where they come from, and the values in use now. */
export interface RefreshTarget {
  readonly uses: readonly ReferenceUse[];
  readonly sources: ReadonlyMap<string, SecretSource>;
  /** The last good value of each reference, by the reference as written. */
  readonly values: ReadonlyMap<string, string>;
}

/** What a refresh found: the values to use (the last good one where a fetch failed), and which changed. */
export interface RefreshResult {
  readonly values: ReadonlyMap<string, string>;
  readonly changed: readonly ReferenceUse[];
}

/**
 * Fetches every reference of `target` again: one refresh round. A failed fetch keeps the last good value and is
 * logged as a warning naming the reference, the store and the cause (never a value); the next refresh tries again.
 * A value that was set and is now empty counts as a failed fetch. With `metrics`, each fetch is counted and timed,
 * and the round counted as `failed` (some fetch failed), `changed` or `unchanged`; a round cut short by shutdown is
 * not counted.
 */
export async function fetchChanges(
  target: RefreshTarget,
  options: {
    readonly timeoutMs: number;
    readonly log: Logger;
    readonly signal?: AbortSignal;
    readonly metrics?: SecretMetrics;
  },
): Promise<RefreshResult> {
  const outcomes = await fetchReferences(target.uses, target.sources, {
    timeoutMs: options.timeoutMs,
    ...(options.signal && { signal: options.signal }),
    ...(options.metrics && { metrics: options.metrics }),
  });
  const values = new Map(target.values);
  const changed: ReferenceUse[] = [];
  const failures: SecretFailure[] = [];
  let emptied = false;
  for (const use of target.uses) {
    const outcome = outcomes.get(use.reference.raw);
    if (outcome === undefined) continue;
    if (!outcome.ok) {
      failures.push(outcome.failure);
    } else if (outcome.value === '' && target.values.get(use.reference.raw) !== '') {
      // A file caught half-written, a secret emptied by mistake: taking it would, say, switch CSRF protection off.
      emptied = true;
      options.log.warn(
        { reference: use.reference.raw, provider: use.reference.provider },
        'secret refresh found an empty value; the last good value stays in use',
      );
    } else if (outcome.value !== target.values.get(use.reference.raw)) {
      values.set(use.reference.raw, outcome.value);
      changed.push(use);
    }
  }
  // Cancelled by shutdown: nothing went wrong with the stores.
  if (!options.signal?.aborted) {
    logFailures(options.log, failures, 'secret refresh failed; the last good value stays in use');
    const failed = failures.length > 0 || emptied;
    options.metrics?.secretRefresh(failed ? 'failed' : changed.length > 0 ? 'changed' : 'unchanged');
  }
  return { values, changed };
}

/** How many failures of one refresh or retry are logged one by one; the rest are counted in one line. */
const FAILURES_LOGGED_EACH = 20;

/**
 * Logs failures as warnings, one line each (the reference, the store, the code and why) for the first
 * {@link FAILURES_LOGGED_EACH}, then one line counting the others by store: a store down under thousands of
 * references must not write thousands of lines per tick.
 */
export function logFailures(
  log: Logger,
  failures: readonly SecretFailure[],
  message: string,
  extra: Record<string, unknown> = {},
): void {
  for (const { reference, provider, message: reason, code } of failures.slice(0, FAILURES_LOGGED_EACH)) {
    log.warn({ reference, provider, code, reason, ...extra }, message);
  }
  const rest = failures.slice(FAILURES_LOGGED_EACH);
  if (rest.length === 0) return;
  const byProvider: Record<string, number> = {};
  for (const { provider } of rest) byProvider[provider] = (byProvider[provider] ?? 0) + 1;
  log.warn({ more: rest.length, byProvider, ...extra }, `${message} (${rest.length} more references)`);
}

/**
 * Subscribes to the stores that can tell when a secret may have changed (`SecretSource.watch`), once per distinct
 * store and path. Returns a function that stops every subscription.
 */
export function watchReferences(
  uses: readonly ReferenceUse[],
  sources: ReadonlyMap<string, SecretSource>,
  /** Told the store whose secret may have changed. */
  onChange: (provider: string) => void,
  log: Logger,
): () => void {
  const stops: Array<() => void> = [];
  const seen = new Set<string>();
  for (const { reference } of uses) {
    const source = sources.get(reference.provider);
    const key = JSON.stringify([reference.provider, reference.path]);
    if (source?.watch === undefined || seen.has(key)) continue;
    seen.add(key);
    try {
      stops.push(source.watch(reference.path, () => onChange(reference.provider)));
    } catch (error) {
      // The periodic fetch still sees the change; watching only makes it sooner.
      log.warn(
        { reference: reference.raw, provider: reference.provider, reason: errorMessage(error) },
        'cannot watch secret for changes; it is fetched at each refresh_interval',
      );
    }
  }
  return () => {
    for (const stop of stops.splice(0)) {
      try {
        stop();
      } catch {
        // Nothing to do: the subscription is being dropped either way.
      }
    }
  };
}

/** How soon after a watched store reports a change the refresh runs: changes come in bursts (a file rewritten). */
const WATCH_SETTLE_MS = 50;

/**
 * Runs `refresh` every `intervalMs` (counted from the end of the previous run, so runs never overlap) and soon
 * after {@link RefreshSchedule.trigger}. Timers do not keep the process alive.
 */
export class RefreshSchedule {
  /** How often it runs (milliseconds). */
  readonly intervalMs: number;
  readonly #refresh: (providers?: ReadonlySet<string>) => Promise<void>;
  /** The stores triggers named since the last run: a triggered run fetches theirs only. */
  #triggered = new Set<string>();
  /**
   * The periodic run, of every store: only its own runs set it again, so no trigger, however frequent, can
   * postpone it (a triggered run fetches one store; the others rely on this one).
   */
  #tick: NodeJS.Timeout | undefined;
  /** A run soon after a trigger; later triggers join it rather than push it back. */
  #soon: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** A trigger came while a run was going on. */
  #again = false;
  /** The periodic run fell due while another run was going on: it runs as soon as that one ends. */
  #tickDue = false;
  #stopped = false;

  /** `refresh` is given the stores to fetch again, or nothing for all of them (the periodic run). */
  constructor(intervalMs: number, refresh: (providers?: ReadonlySet<string>) => Promise<void>) {
    this.intervalMs = intervalMs;
    this.#refresh = refresh;
    this.#tick = this.#timer(intervalMs, false);
  }

  /**
   * Asks for a refresh of `provider`'s references soon (a watched secret may have changed); triggers join one
   * pending run, and the other stores are not asked (a busy folder must not flood a cloud store).
   */
  trigger(provider: string): void {
    if (this.#stopped) return;
    this.#triggered.add(provider);
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#soon ??= this.#timer(WATCH_SETTLE_MS, true);
  }

  /** Stops the timers and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#tick);
    clearTimeout(this.#soon);
    await this.#running;
  }

  #timer(delayMs: number, triggered: boolean): NodeJS.Timeout {
    const timer = setTimeout(() => this.#run(triggered), delayMs);
    timer.unref();
    return timer;
  }

  #run(triggered: boolean): void {
    if (triggered) this.#soon = undefined;
    else this.#tick = undefined;
    if (this.#running !== undefined) {
      if (triggered) this.#again = true;
      else this.#tickDue = true;
      return;
    }
    let providers: ReadonlySet<string> | undefined;
    if (triggered) {
      providers = this.#triggered;
    } else {
      // Every store is fetched: what triggers asked for is covered.
      clearTimeout(this.#soon);
      this.#soon = undefined;
      this.#again = false;
    }
    this.#triggered = new Set();
    this.#running = this.#refresh(providers)
      .catch(() => undefined)
      .finally(() => {
        this.#running = undefined;
        if (this.#stopped) return;
        if (!triggered) this.#tick = this.#timer(this.intervalMs, false);
        if (this.#tickDue) {
          this.#tickDue = false;
          return this.#run(false);
        }
        if (this.#again) {
          this.#again = false;
          this.#soon ??= this.#timer(WATCH_SETTLE_MS, true);
        }
      });
  }
}
