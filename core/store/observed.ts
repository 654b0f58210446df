import { ErrorCodes, errorCode } from '../errors.ts';
import type { OperationRecorder, StoreMetrics } from '../observe/metrics.ts';
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
 * operation that rejects is an `error`, unless it answered the request (`ERR_NOT_FOUND`, `ERR_INVALID_ARGUMENT`).
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
  return observed as unknown as AuthenticationStore;
}

async function timed<T>(record: OperationRecorder, operation: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await operation();
    record(true, (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    const code = errorCode(error);
    record(code !== undefined && ANSWERS.has(code), (performance.now() - started) / 1000);
    throw error;
  }
}
