import { hash } from 'node:crypto';

/**
 * Tokens verified recently, by the SHA-256 of their text, with what verifying them gave: so that a client sending
 * the same token with every request pays for one verification. Bounded (the oldest forgotten first), and an entry
 * never outlives the time it was given (a token's expiry, and a few minutes at most so that a removed key stops
 * working soon).
 */
export class VerifiedTokens<T> {
  readonly #entries = new Map<string, { value: T; until: number }>();
  readonly #capacity: number;

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
    this.#entries.delete(key);
    return undefined;
  }

  /** Remembers `value` under `key` until `until` (milliseconds since the epoch, exclusive). */
  set(key: string, value: T, until: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, until });
  }
}
