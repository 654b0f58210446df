import { ErrorCodes, errorCode } from '../errors.ts';
import { isThenable, type MaybePromise } from '../maybe-promise.ts';
import type { OperationRecorder, StoreMetrics } from '../observe/metrics.ts';
import { answersAtOnce, twinOf } from './at-once.ts';
import type { AuthenticationStore } from './types.ts';

/** The store methods that are operations (counted and timed): every one but `close`, `ready` and `setCredentials`. */
const OPERATIONS = [
  'createAuthentication',
  'getAuthenticationByClientToken',
  'getAuthenticationByTokenHash',
  'getAuthenticationById',
  'getExtras',
  'listAuthentications',
  'deleteAuthentications',
  'expireAuthentication',
  'putChallenge',
  'popChallenge',
] as const satisfies ReadonlyArray<keyof AuthenticationStore>;

/** Answers about the request rather than failures of the store: `ERR_NOT_FOUND`, `ERR_INVALID_ARGUMENT`. */
const ANSWERS: ReadonlySet<string> = new Set([ErrorCodes.NOT_FOUND, ErrorCodes.INVALID_ARGUMENT]);

/**
 * `store` with each operation counted and timed in `metrics` as the store `kind` (`memory`, `redis`):
 * `portcullis_store_operations_total{store, operation, outcome}` and `portcullis_store_operation_seconds`. An
 * operation that rejects (or throws) is an `error`, unless it answered the request (`ERR_NOT_FOUND`,
 * `ERR_INVALID_ARGUMENT`). Where the store's token-hash lookup answers at once (at-once.ts), so does the observed one.
 * `close`, `ready` and `setCredentials` pass through as they are.
 */
export function observeStore(
  store: AuthenticationStore,
  kind: string,
  metrics: StoreMetrics,
): AuthenticationStore {
  const observed: Record<string, unknown> = {
    close: () => store.close(),
    ...(store.ready && { ready: () => store.ready?.() ?? true }),
    ...(store.setCredentials && {
      setCredentials: (credentials: Parameters<NonNullable<AuthenticationStore['setCredentials']>>[0]) =>
        store.setCredentials?.(credentials),
    }),
  };
  for (const operation of OPERATIONS) {
    const record = metrics.storeOperation(kind, operation);
    const method = store[operation] as (...args: unknown[]) => Promise<unknown>;
    observed[operation] = (...args: unknown[]) => timed(record, () => method.apply(store, args));
  }
  const twin = twinOf(store.getAuthenticationByTokenHash);
  if (twin !== undefined) {
    // The observed lookup answers at once too, counted as the lookup it is a twin of (lookUpTokenHash).
    const record = metrics.storeOperation(kind, 'getAuthenticationByTokenHash');
    answersAtOnce(
      observed.getAuthenticationByTokenHash as AuthenticationStore['getAuthenticationByTokenHash'],
      (tokenHash) => timed(record, () => twin.call(store, tokenHash)),
    );
  }
  return observed as unknown as AuthenticationStore;
}

/**
 * Runs `operation` and records it when it settles, without standing between it and its caller: the caller awaits
 * the store's own promise (a wrapping `async` function would add a hop to every lookup of every request), and the
 * recording hangs off it; an answer at once is recorded at once.
 */
function timed<T>(record: OperationRecorder, operation: () => MaybePromise<T>): MaybePromise<T> {
  const started = performance.now();
  let pending: MaybePromise<T>;
  try {
    pending = operation();
  } catch (error) {
    record(isAnswer(error), (performance.now() - started) / 1000);
    throw error;
  }
  if (!isThenable(pending)) {
    record(true, (performance.now() - started) / 1000);
    return pending;
  }
  pending.then(
    () => record(true, (performance.now() - started) / 1000),
    (error: unknown) => record(isAnswer(error), (performance.now() - started) / 1000),
  );
  return pending;
}

/** Whether a rejection answered the request (not found, invalid) rather than being the store's failure. */
function isAnswer(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && ANSWERS.has(code);
}
