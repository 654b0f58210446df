import { isJwtAuthentication } from '../auth/jwt-claims.ts';
import { ErrorCodes, errorMessage, PluginError } from '../errors.ts';
import type { Authentication, MethodInstance } from './contracts.ts';

/** The members of {@link MethodInstance}; each is a function but `schemes` and `clientTokens`. */
const HOOKS = [
  'routes',
  'authenticate',
  'admit',
  'endSession',
  'findClientToken',
  'identity',
  'close',
] as const satisfies ReadonlyArray<keyof MethodInstance>;
const KNOWN = new Set<string>([...HOOKS, 'schemes', 'clientTokens']);

/**
 * Checks what a method's `create` returned: an object whose hooks are functions and whose `schemes` is a list of
 * strings (`ERR_PLUGIN_INVALID` otherwise, naming the member), so that a mistake stops start-up rather than the first
 * request. Returns the own members portcullis does not know — a misspelled hook (`identify`) is otherwise silently
 * never called — for the caller to warn about.
 */
export function checkMethodInstance(instance: unknown, plugin: string): string[] {
  const fail = (problem: string): never => {
    throw new PluginError(ErrorCodes.PLUGIN_INVALID, `plugin "${plugin}": create ${problem}`, { plugin });
  };
  if (typeof instance !== 'object' || instance === null)
    return fail('must return an object (a method instance)');
  const members = instance as Record<string, unknown>;
  for (const hook of HOOKS) {
    if (members[hook] !== undefined && typeof members[hook] !== 'function') {
      fail(`returned ${hook}, which must be a function when present`);
    }
  }
  const { schemes } = members;
  if (schemes !== undefined && !(Array.isArray(schemes) && schemes.every((s) => typeof s === 'string'))) {
    fail('returned schemes, which must be a list of Authorization schemes (strings)');
  }
  if (members.clientTokens !== undefined && !Array.isArray(members.clientTokens)) {
    fail('returned clientTokens, which must be a list of { credential, authentication }');
  }
  if (Array.isArray(schemes) && schemes.length > 0 && members.authenticate === undefined) {
    fail('returned schemes without authenticate, which is what checks a credential of those schemes');
  }
  return Object.keys(members).filter((key) => !KNOWN.has(key));
}

const isDate = (value: unknown) => value instanceof Date && !Number.isNaN(value.getTime());

/**
 * Why what a method hook answered is not an {@link Authentication} (an object with a string `id`, a non-empty string
 * `method`, `metadata` of string values, valid dates where given), or `undefined` when it is one. The pipeline
 * refuses the request on such an answer rather than let `false`, `42` or `{}` stand for a caller.
 */
export function authenticationProblem(value: unknown): string | undefined {
  if (vouched.has(value as object)) return undefined;
  try {
    return readProblem(value);
  } catch (error) {
    // A getter that throws: the answer cannot be read, so it cannot stand for a caller either.
    return `answered an authentication that cannot be read (${errorMessage(error)})`;
  }
}

function readProblem(value: unknown): string | undefined {
  // The kit's JWT authentication is one by construction; reading it would make the metadata it makes when first read.
  if (isJwtAuthentication(value)) return undefined;
  if (value === null) return 'answered null, not an authentication';
  if (typeof value !== 'object' || Array.isArray(value)) {
    return `answered ${value === undefined ? 'undefined' : Array.isArray(value) ? 'an array' : typeof value}, not an authentication (or null)`;
  }
  const candidate = value as Record<string, unknown>;
  if (typeof candidate.id !== 'string') return 'answered an authentication without a string id';
  if (typeof candidate.method !== 'string' || candidate.method === '') {
    return 'answered an authentication without its method';
  }
  const { metadata } = candidate;
  if (
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata) ||
    !Object.values(metadata).every((entry) => typeof entry === 'string')
  ) {
    return 'answered an authentication whose metadata is not an object of strings';
  }
  for (const field of ['expiresAt', 'createdAt', 'updatedAt'] as const) {
    if (candidate[field] !== undefined && !isDate(candidate[field])) {
      return `answered an authentication whose ${field} is not a valid Date`;
    }
  }
  return undefined;
}

/** The authentications {@link frozenAuthentication} made: checked once, when made, and unchangeable since. */
const vouched = new WeakSet<object>();

/** Names of `Date.prototype`'s setters (`setTime`, `setFullYear`, ...), each of which a read-only date refuses. */
const DATE_SETTERS = Object.getOwnPropertyNames(Date.prototype).filter((name) => name.startsWith('set'));

/** A `Date` whose every setter throws a `TypeError`: what a frozen object cannot do for a date's time. */
class ReadOnlyDate extends Date {}
for (const name of DATE_SETTERS) {
  Object.defineProperty(ReadOnlyDate.prototype, name, {
    value(): never {
      throw new TypeError(
        `Date.prototype.${name} on a read-only date (an authentication's, made by frozenAuthentication)`,
      );
    },
  });
}

/** The refusals {@link frozenFailure} made: told from whatever the input's getters throw without asking it anything. */
const refusals = new WeakSet<object>();

/** A refusal of {@link frozenAuthentication}'s input, worded as the pipeline words a hook's answer. */
function frozenFailure(problem: string): PluginError {
  const refusal = new PluginError(
    ErrorCodes.PLUGIN_INVALID,
    `frozenAuthentication: given ${problem.replace(/^answered /, '')}`,
  );
  refusals.add(refusal);
  return refusal;
}

/**
 * A date field's read-only copy, decided on one look (`instanceof` once, the time read through
 * `Date.prototype.getTime` itself, which a subclass or a Proxy cannot answer for): anything else is refused.
 */
function readOnlyDate(field: string, value: unknown): Date {
  if (!(value instanceof Date)) throw frozenFailure(`an authentication whose ${field} is not a valid Date`);
  return Object.freeze(new ReadOnlyDate(Date.prototype.getTime.call(value)));
}

/** Metadata's copy: its own string keys and their values, each read once (no symbol keys, which the check skips). */
function metadataCopy(metadata: unknown): Readonly<Record<string, string>> {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw frozenFailure('an authentication whose metadata is not an object of strings');
  }
  return Object.freeze(Object.fromEntries(Object.entries(metadata)));
}

/**
 * An authentication a method hands out many times (a configured token's, say), made once: a copy of
 * `authentication`'s fields (`id`, `method`, the dates, `metadata`; nothing else, so no `then`), each read once, then
 * frozen — its metadata frozen, its dates `Date`s whose own setters throw a `TypeError` — and checked as it is, so
 * that every caller may be given the same object and the pipeline does not check it again on every request it
 * answers. Whoever is handed it cannot change it by mistake (`Date.prototype.setTime.call(date, …)`, called on
 * purpose, changes any `Date`, this one too). Throws `ERR_PLUGIN_INVALID` when the copy is not an authentication (as a
 * hook's answer would be refused), or when `authentication` cannot be read. In the kit since 1.6.0.
 */
export function frozenAuthentication(authentication: Authentication): Authentication {
  let frozen: Authentication;
  try {
    const given: unknown = authentication;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      throw frozenFailure(authenticationProblem(given) ?? 'not an authentication');
    }
    const { id, method, expiresAt, createdAt, updatedAt, metadata } = authentication;
    // Its fields only: nothing else (a `then`, say) can make the pipeline treat it as other than what was checked.
    frozen = Object.freeze({
      id,
      method,
      ...(expiresAt !== undefined && { expiresAt: readOnlyDate('expiresAt', expiresAt) }),
      ...(createdAt !== undefined && { createdAt: readOnlyDate('createdAt', createdAt) }),
      ...(updatedAt !== undefined && { updatedAt: readOnlyDate('updatedAt', updatedAt) }),
      metadata: metadataCopy(metadata),
    });
  } catch (error) {
    if (refusals.has(error as object)) throw error;
    throw frozenFailure(`an authentication that cannot be read (${errorMessage(error)})`);
  }
  // The copy is what is checked: a getter of the original that answers something else the second time cannot
  // slip past the check.
  const problem = authenticationProblem(frozen);
  if (problem !== undefined) throw frozenFailure(problem);
  vouched.add(frozen);
  return frozen;
}

/** Whether `value` was made by {@link frozenAuthentication}: an authentication, checked, with no `then`. */
export function isFrozenAuthentication(value: unknown): value is Authentication {
  return vouched.has(value as object);
}
