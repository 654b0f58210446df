import { hash } from 'node:crypto';

/** How many characters of a token its fingerprint reads, from the end: a JWT's signature, as random as it gets. */
const FINGERPRINT_CHARS = 32;

/**
 * A token's fingerprint: FNV-1a over its last {@link FINGERPRINT_CHARS} characters, 30 bits (a small integer, kept in
 * a Set or Map without an allocation). Not a hash to trust (anyone can make two tokens alike): only a hint of
 * whether to look a token up by its SHA-256, or whether it was verified before.
 */
function fingerprintOf(token: string): number {
  let hash = 0x811c9dc5;
  for (let i = Math.max(0, token.length - FINGERPRINT_CHARS); i < token.length; i++) {
    hash = Math.imul(hash ^ token.charCodeAt(i), 0x01000193);
  }
  return hash >>> 2;
}

/** A remembered token, linked to the one remembered before it and the one after (oldest first). */
interface Entry<T> {
  readonly key: string;
  readonly value: T;
  readonly until: number;
  /** The token's fingerprint when {@link VerifiedTokens.remember} kept it, else -1. */
  readonly fingerprint: number;
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
  /** The fingerprints of the last `capacity` tokens verified once ({@link VerifiedTokens.remember}), in `#seenOrder`. */
  readonly #seen = new Set<number>();
  /** `#seen`'s fingerprints as they came, a ring: the one at `#seenNext` is the oldest once it is full. */
  readonly #seenOrder: Int32Array;
  #seenNext = 0;
  #seenCount = 0;
  /** The fingerprints of the entries {@link VerifiedTokens.remember} kept, each with how many have it. */
  readonly #kept = new Map<number, number>();

  /** `capacity`: how many tokens are remembered at most (default 10 000); past it the oldest is forgotten. */
  constructor(capacity = 10_000) {
    this.#capacity = capacity;
    this.#seenOrder = new Int32Array(Math.max(1, capacity));
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
    this.#store(key, value, until, -1);
  }

  #store(key: string, value: T, until: number, fingerprint: number): void {
    const known = this.#entries.get(key);
    if (known !== undefined) this.#forget(known);
    else if (this.#entries.size >= this.#capacity && this.#oldest !== undefined) this.#forget(this.#oldest);
    const entry: Entry<T> = { key, value, until, fingerprint, older: this.#newest, newer: undefined };
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
    this.#entries.set(key, entry);
    if (fingerprint >= 0) this.#kept.set(fingerprint, (this.#kept.get(fingerprint) ?? 0) + 1);
  }

  /**
   * What {@link VerifiedTokens.remember} kept for `token` (by its {@link VerifiedTokens.key}), unless its time is up at
   * `now`. A token with nothing kept under its fingerprint is answered without hashing it: a first-seen token costs a
   * look in a set of small integers, not a SHA-256. Since kit 1.4.0.
   */
  recall(token: string, now: number): T | undefined {
    if (!this.#kept.has(fingerprintOf(token))) return undefined;
    return this.get(VerifiedTokens.key(token), now);
  }

  /**
   * Remembers `value` for `token` (by its {@link VerifiedTokens.key}) until `until`, as {@link VerifiedTokens.set}
   * does — but only a token verified before, among the last `capacity` verified: the first time, its fingerprint is
   * only noted (a small integer in a set, nothing allocated for it). So a token sent once — a flood of fresh tokens,
   * one per request — is neither hashed nor kept, nor does it push out the tokens clients keep sending (their
   * entries are found by a fingerprint of their own, which no other token's noting removes); a token sent again is
   * verified twice before it is remembered (TinyLFU's doorkeeper, Einziger et al. 2017). Fingerprints decide only
   * whether to look or to keep: a token taken for another was verified all the same, and is looked up by its
   * SHA-256. Returns whether `value` was remembered. Since kit 1.4.0.
   */
  remember(token: string, value: T, until: number): boolean {
    const fingerprint = fingerprintOf(token);
    if (!this.#seen.has(fingerprint)) {
      this.#note(fingerprint);
      return false;
    }
    this.#store(VerifiedTokens.key(token), value, until, fingerprint);
    return true;
  }

  /** Notes a fingerprint as seen, forgetting the oldest noted once `capacity` are. */
  #note(fingerprint: number): void {
    const order = this.#seenOrder;
    if (this.#seenCount === order.length) this.#seen.delete(order[this.#seenNext] as number);
    else this.#seenCount++;
    order[this.#seenNext] = fingerprint;
    this.#seenNext = (this.#seenNext + 1) % order.length;
    this.#seen.add(fingerprint);
  }

  #forget(entry: Entry<T>): void {
    this.#entries.delete(entry.key);
    if (entry.fingerprint >= 0) {
      const count = (this.#kept.get(entry.fingerprint) ?? 1) - 1;
      if (count === 0) this.#kept.delete(entry.fingerprint);
      else this.#kept.set(entry.fingerprint, count);
    }
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
  }
}
