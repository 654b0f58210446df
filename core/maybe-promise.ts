/** A value, or a promise of it: what a step on every request's path answers, at once whenever it can. */
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
