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

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  static key(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: T, until: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, until });
  }
}
