/** A value, or a promise of it: what a step on every request's path answers, at once whenever it can. In the kit since 1.4.0. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Whether `value` is a thenable (a promise, or anything with a `then` method, as `await` treats it): what must be
 * waited for. Anything else is the answer itself, taken without a trip through the microtask queue.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Hands `value` to `next`, at once when it is not a thenable, once it settles when it is; a rejection, or a `then`
 * that cannot be read or throws, goes to `failed` instead — what `await value` inside a `try` would do, reading
 * `then` once. For what plugins answer: a getter that throws is their refusal, not a throw out of the caller.
 */
export function settle<T, R>(
  value: T | PromiseLike<T>,
  next: (settled: T) => MaybePromise<R>,
  failed: (error: unknown) => MaybePromise<R>,
): MaybePromise<R> {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return next(value as T);
  if (value instanceof Promise) return value.then(next, failed);
  let then: unknown;
  try {
    then = (value as { then?: unknown }).then;
  } catch (error) {
    return failed(error);
  }
  if (typeof then !== 'function') return next(value as T);
  return new Promise<T>((resolve, reject) => {
    try {
      then.call(value, resolve, reject);
    } catch (error) {
      reject(error);
    }
  }).then(next, failed);
}
