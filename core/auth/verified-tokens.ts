import { hash } from 'node:crypto';

/** A remembered token, linked to the one remembered before it and the one after (oldest first). */
interface Entry<T> {
  readonly key: string;
  readonly value: T;
  readonly until: number;
  older: Entry<T> | undefined;
  newer: Entry<T> | undefined;
}

/**
 * Tokens verified recently, by the SHA-256 of their text, with what verifying them gave: so that a client sending
 * the same token with every request pays for one verification. Bounded (the oldest forgotten first), and an entry
 * never outlives the time it was given (a token's expiry, and a few minutes at most so that a removed key stops
 * working soon).
 *
 * The order of age is kept in a list beside the map rather than read from the map's own order: a `Map` that keeps
 * forgetting its first entry leaves the deleted slots before it until it is rehashed, and finding the first live
 * one walked over thousands of them, ~7 µs for every first-seen token once the cache was full
 * (bench/jwt-verify-cpu.ts).
 */
export class VerifiedTokens<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #capacity: number;
  #oldest: Entry<T> | undefined;
  #newest: Entry<T> | undefined;

  /** `capacity`: how many tokens are remembered at most (default 10 000); past it the oldest is forgotten. */
  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  /** The key a token is remembered by: its SHA-256, base64url (the token itself is never kept). */
  static key(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** What was remembered under `key`, unless its time is up at `now` (milliseconds since the epoch). */
  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.#forget(entry);
    return undefined;
  }

  /** Remembers `value` under `key` until `until` (milliseconds since the epoch, exclusive), as the newest entry. */
  set(key: string, value: T, until: number): void {
    const known = this.#entries.get(key);
    if (known !== undefined) this.#forget(known);
    else if (this.#entries.size >= this.#capacity && this.#oldest !== undefined) this.#forget(this.#oldest);
    const entry: Entry<T> = { key, value, until, older: this.#newest, newer: undefined };
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
    this.#entries.set(key, entry);
  }

  #forget(entry: Entry<T>): void {
    this.#entries.delete(entry.key);
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
  }
}
