import type { MaybePromise } from '../maybe-promise.ts';
import type { Authentication } from '../plugins/contracts.ts';
import type { AuthenticationStore } from './types.ts';

/** A store's lookup by token hash that may answer at once; called with the store as `this`. */
export type TokenHashLookup = (
  this: AuthenticationStore,
  tokenHash: string,
) => MaybePromise<Authentication | undefined>;

/**
 * Each `getAuthenticationByTokenHash` function known to have a twin that answers as it does, at once where it can
 * (the memory store's; the observed store's, over a store that has one). Keyed by the function itself, not by the
 * store: whoever replaces a store's lookup (assigns another, spreads the store with one of their own, overrides it
 * in a subclass) replaces a function that has no twin here, and theirs is what is asked.
 */
const twins = new WeakMap<AuthenticationStore['getAuthenticationByTokenHash'], TokenHashLookup>();

/** Registers `atOnce` as the twin of `lookup`: it must answer whatever `lookup` would, for the same store. */
export function answersAtOnce(
  lookup: AuthenticationStore['getAuthenticationByTokenHash'],
  atOnce: TokenHashLookup,
): void {
  twins.set(lookup, atOnce);
}

/** The twin registered for `lookup` ({@link answersAtOnce}), if any. */
export function twinOf(
  lookup: AuthenticationStore['getAuthenticationByTokenHash'],
): TokenHashLookup | undefined {
  return twins.get(lookup);
}

/**
 * `store.getAuthenticationByTokenHash(tokenHash)`, or its twin's answer when it has one: at once from a store that
 * holds its authentications in this process, so that a stored token's lookup costs no promise and no trip through
 * the microtask queue; a promise otherwise (Redis). Throws or rejects as the lookup does.
 */
export function lookUpTokenHash(
  store: AuthenticationStore,
  tokenHash: string,
): MaybePromise<Authentication | undefined> {
  const lookup = store.getAuthenticationByTokenHash;
  const atOnce = twins.get(lookup);
  return atOnce === undefined ? lookup.call(store, tokenHash) : atOnce.call(store, tokenHash);
}
