import { quoteValue } from '../config/describe-value.ts';
import { type Path, setAt } from '../config/tree.ts';
import {
  ErrorCodes,
  errorCode,
  errorMessage,
  PortcullisError,
  type SecretFailure,
  SecretResolutionError,
} from '../errors.ts';
import type { SecretMetrics } from '../observe/metrics.ts';
import type { SecretSource } from '../plugins/contracts.ts';
import type { ReferenceSite } from './find.ts';
import type { SecretReference } from './parse.ts';

/** One distinct reference, and every place in the configuration that uses it. */
export interface ReferenceUse {
  readonly reference: SecretReference;
  readonly paths: readonly Path[];
}

/** What resolution produced: the configuration with values in place, and each distinct value once. */
export interface Resolution<T> {
  readonly config: T;
  /** Every resolved value, so that the logger can scrub them from output. */
  readonly values: readonly string[];
  /** The value of each reference, by the reference as written. */
  readonly byReference: ReadonlyMap<string, string>;
}

/** How references are fetched. */
export interface FetchOptions {
  /** The most one `get` may take (milliseconds); its signal is aborted then. Default 10 000. */
  readonly timeoutMs?: number;
  /** Aborts every `get` at once (shutdown). */
  readonly signal?: AbortSignal;
  /** Counts and times each `get` by provider (`portcullis_secret_fetches_total`, `portcullis_secret_fetch_seconds`). */
  readonly metrics?: Pick<SecretMetrics, 'secretFetch'>;
}

/** How start-up resolution waits for stores that cannot be reached. */
export interface ResolveOptions extends FetchOptions {
  /**
   * How long failures other than "not found" and "invalid reference" are retried, with backoff, before start-up
   * gives up (milliseconds; `secrets.startup_timeout`). Default 0: one attempt.
   */
  readonly retryForMs?: number;
  /** Told of each retry. */
  readonly onRetry?: (failures: readonly SecretFailure[], delayMs: number) => void;
}

const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
const FIRST_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;

/** Failures no retry can mend: the reference or the secret is wrong, not the store's reachability. */
const FINAL_CODES: ReadonlySet<string> = new Set([
  ErrorCodes.SECRET_NOT_FOUND,
  ErrorCodes.SECRET_REFERENCE_INVALID,
  // A store that answers something other than text: a plugin bug, which waiting does not mend.
  ErrorCodes.PLUGIN_INVALID,
]);

/** A failure of a store that was never enabled: retrying cannot help either. */
const PROVIDER_MISSING = Symbol('provider missing');

/** Whether waiting and fetching again might mend `failure`. */
export function isRetryable(failure: SecretFailure): boolean {
  return !FINAL_CODES.has(failure.code) && !(failure as { [PROVIDER_MISSING]?: true })[PROVIDER_MISSING];
}

/** The distinct references of `sites`, in the order first used, each with every path using it. */
export function groupReferences(sites: readonly ReferenceSite[]): ReferenceUse[] {
  const byReference = new Map<string, { reference: SecretReference; paths: Path[] }>();
  for (const site of sites) {
    if (!site.parsed.ok) throw new Error(`unchecked invalid secret reference at ${site.path.join('.')}`);
    const { reference } = site.parsed;
    const entry = byReference.get(reference.raw) ?? { reference, paths: [] };
    entry.paths.push(site.path);
    byReference.set(reference.raw, entry);
  }
  return [...byReference.values()];
}

/** Either the value of a reference, or why it could not be fetched. */
export type FetchOutcome =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly failure: SecretFailure };

/**
 * Fetches every reference of `uses` once, all at the same time, each bounded by `timeoutMs`. Never rejects: each
 * outcome is a value or a failure naming the reference, the provider and where it is used, never a value.
 */
export async function fetchReferences(
  uses: readonly ReferenceUse[],
  sources: ReadonlyMap<string, SecretSource>,
  options: FetchOptions = {},
): Promise<Map<string, FetchOutcome>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const settled = await settleLimited(
    uses,
    ({ reference }) => reference.provider,
    // The keys of one secret are one task: asked for at once, so that a store reads the secret once (sharedCalls).
    ({ reference }) => reference.path,
    ({ reference }) => fetchOne(reference, sources, timeoutMs, options.signal, options.metrics),
  );
  const outcomes = new Map<string, FetchOutcome>();
  settled.forEach((outcome, i) => {
    const { reference, paths } = uses[i] as ReferenceUse;
    if (outcome.status === 'fulfilled') {
      outcomes.set(reference.raw, { ok: true, value: outcome.value });
      return;
    }
    const failure: SecretFailure = {
      reference: reference.raw,
      provider: reference.provider,
      paths,
      message: errorMessage(outcome.reason),
      code: (errorCode(outcome.reason) as SecretFailure['code'] | undefined) ?? ErrorCodes.SECRET_PROVIDER,
    };
    if ((outcome.reason as { [PROVIDER_MISSING]?: true })?.[PROVIDER_MISSING]) {
      Object.defineProperty(failure, PROVIDER_MISSING, { value: true });
    }
    outcomes.set(reference.raw, { ok: false, failure });
  });
  return outcomes;
}

/**
 * How many fetches run at once against one store: thousands of references must not open thousands of connections
 * (file descriptors run out, and the store is flooded); each fetch's time limit starts when it starts.
 */
export const MAX_FETCHES_PER_STORE = 16;

/**
 * `run` for each item, settled in `items`' order. Items of one `group` (a store) run at most
 * {@link MAX_FETCHES_PER_STORE} tasks at once; the items of one `task` (the keys of one secret) run together, as one.
 */
async function settleLimited<T, R>(
  items: readonly T[],
  group: (item: T) => string,
  task: (item: T) => string,
  run: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const settled = new Array<PromiseSettledResult<R>>(items.length);
  const queues = new Map<string, Map<string, number[]>>();
  items.forEach((item, i) => {
    const tasks = queues.get(group(item)) ?? new Map<string, number[]>();
    const indexes = tasks.get(task(item)) ?? [];
    indexes.push(i);
    tasks.set(task(item), indexes);
    queues.set(group(item), tasks);
  });
  const runOne = async (i: number) => {
    try {
      settled[i] = { status: 'fulfilled', value: await run(items[i] as T) };
    } catch (reason) {
      settled[i] = { status: 'rejected', reason };
    }
  };
  const worker = async (queue: number[][]) => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift())
      await Promise.all(next.map(runOne));
  };
  await Promise.all(
    [...queues.values()].flatMap((tasks) => {
      const queue = [...tasks.values()];
      return Array.from({ length: Math.min(MAX_FETCHES_PER_STORE, queue.length) }, () => worker(queue));
    }),
  );
  return settled;
}

/** A copy of `config` with every use of each reference replaced by its value in `values`. */
export function applyValues<T>(
  config: T,
  uses: readonly ReferenceUse[],
  values: ReadonlyMap<string, string>,
): T {
  const resolved = structuredClone(config);
  for (const { reference, paths } of uses) {
    const value = values.get(reference.raw);
    if (value === undefined) throw new Error(`no value for ${reference.raw}`);
    for (const path of paths) setAt(resolved as Record<string, unknown>, path, value);
  }
  return resolved;
}

/**
 * Waits `ms` milliseconds. The timer keeps the process alive: at start-up nothing else may (no server listens
 * yet), and a retry must not end the process before it is due.
 */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The waits between attempts (milliseconds): `firstMs`, doubling, at most `maxMs`. By default those of start-up:
 * 250 ms, doubling, at most 5 s (as the Redis store's).
 */
export function* backoff(firstMs = FIRST_RETRY_DELAY_MS, maxMs = MAX_RETRY_DELAY_MS): Generator<number> {
  for (let delay = Math.min(firstMs, maxMs); ; delay = Math.min(delay * 2, maxMs)) yield delay;
}

/**
 * Resolves every reference in `config` through `sources` (one per enabled provider). Distinct references are
 * fetched once each, all at the same time, each within `timeoutMs`. Failures a store might mend (unreachable,
 * timed out, refusing) are fetched again with backoff for up to `retryForMs`. Either every reference resolves and
 * a new configuration is returned, or nothing is applied and a `SecretResolutionError` lists every failure, each
 * naming the reference, the provider and where it is used, never a value.
 */
export async function resolveSecretReferences<T>(
  config: T,
  sites: readonly ReferenceSite[],
  sources: ReadonlyMap<string, SecretSource>,
  options: ResolveOptions = {},
): Promise<Resolution<T>> {
  const uses = groupReferences(sites);
  const values = new Map<string, string>();
  const deadline = Date.now() + (options.retryForMs ?? 0);
  let pending = uses;
  const delays = backoff();
  for (;;) {
    const outcomes = await fetchReferences(pending, sources, options);
    const failures: SecretFailure[] = [];
    for (const [raw, outcome] of outcomes) {
      if (outcome.ok) values.set(raw, outcome.value);
      else failures.push(outcome.failure);
    }
    if (failures.length === 0) break;
    const wait = Math.min(delays.next().value as number, deadline - Date.now());
    if (failures.some((failure) => !isRetryable(failure)) || wait <= 0) {
      throw new SecretResolutionError(failures);
    }
    options.onRetry?.(failures, wait);
    await sleep(wait);
    pending = pending.filter(({ reference }) => !values.has(reference.raw));
  }
  return { config: applyValues(config, uses, values), values: [...values.values()], byReference: values };
}

async function fetchOne(
  reference: SecretReference,
  sources: ReadonlyMap<string, SecretSource>,
  timeoutMs: number,
  stop: AbortSignal | undefined,
  metrics: FetchOptions['metrics'],
): Promise<string> {
  const source = sources.get(reference.provider);
  if (source === undefined) {
    throw Object.assign(
      new PortcullisError(
        ErrorCodes.SECRET_PROVIDER,
        `provider ${quoteValue(reference.provider)} not found (enable it under secrets.providers.${reference.provider})`,
      ),
      { [PROVIDER_MISSING]: true },
    );
  }
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let stopped: (() => void) | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    const give = (error: PortcullisError) => {
      controller.abort(error);
      reject(error);
    };
    timer = setTimeout(
      () =>
        give(
          new PortcullisError(
            ErrorCodes.SECRET_PROVIDER,
            `no answer within ${timeoutMs} ms (secrets.fetch_timeout)`,
          ),
        ),
      timeoutMs,
    );
    stopped = () =>
      give(new PortcullisError(ErrorCodes.UNAVAILABLE, 'cancelled: portcullis is shutting down'));
    if (stop?.aborted) stopped();
    else stop?.addEventListener('abort', stopped, { once: true });
  });
  const started = performance.now();
  let ok = false;
  try {
    const value = await Promise.race([
      Promise.resolve().then(() => source.get(reference.path, reference.key, { signal: controller.signal })),
      timedOut,
    ]);
    if (typeof value !== 'string') {
      throw new PortcullisError(
        ErrorCodes.PLUGIN_INVALID,
        `provider ${quoteValue(reference.provider)} answered ${value === null ? 'null' : `a value of type ${typeof value}`}, not a string`,
      );
    }
    ok = true;
    return value;
  } finally {
    // A fetch cut short by shutdown says nothing of the store.
    if (!stop?.aborted) metrics?.secretFetch(reference.provider)(ok, (performance.now() - started) / 1000);
    clearTimeout(timer);
    if (stopped !== undefined) stop?.removeEventListener('abort', stopped);
  }
}
