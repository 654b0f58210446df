import { hash } from 'node:crypto';

/** How many characters of a token its fingerprint reads, from the end: a JWT's signature, as random as it gets. */
const FINGERPRINT_CHARS = 32;

/**
 * A token's fingerprint: FNV-1a (32 bits) over its last {@link FINGERPRINT_CHARS} characters, never 0. Not a
 * hash to trust (anyone can make two tokens alike): only a hint of whether to look a token up.
 */
function fingerprintOf(token: string): number {
  let hash = 0x811c9dc5;
  for (let i = Math.max(0, token.length - FINGERPRINT_CHARS); i < token.length; i++) {
    hash = Math.imul(hash ^ token.charCodeAt(i), 0x01000193);
  }
  return (hash | 1) >>> 0;
}

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
  /** Tokens verified recently ({@link VerifiedTokens.remember}): a fingerprint per slot, 0 for none. */
  readonly #seen: Uint32Array;

  /** `capacity`: how many tokens are remembered at most (default 10 000); past it the oldest is forgotten. */
  constructor(capacity = 10_000) {
    this.#capacity = capacity;
    // As many slots as the largest power of two up to the capacity (at least 2): a token is taken for seen while
    // its slot is not reused, about as long as the cache itself would have remembered it.
    this.#seen = new Uint32Array(2 ** Math.max(1, Math.floor(Math.log2(Math.max(2, capacity)))));
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

  /**
   * What was remembered for `token` (by its {@link VerifiedTokens.key}) unless its time is up at `now`. A token not
   * verified recently ({@link VerifiedTokens.remember}) is answered without hashing it: a first-seen token costs a
   * look at a table, not a SHA-256. Since kit 1.4.0.
   */
  recall(token: string, now: number): T | undefined {
    const fingerprint = fingerprintOf(token);
    if (this.#seen[fingerprint & (this.#seen.length - 1)] !== fingerprint) return undefined;
    return this.get(VerifiedTokens.key(token), now);
  }

  /**
   * Remembers `value` for `token` (by its {@link VerifiedTokens.key}) until `until`, as {@link VerifiedTokens.set}
   * does — but only a token verified before, recently: the first time, it is only marked as seen (a fingerprint in a
   * fixed table, nothing allocated). So a token sent once — a flood of fresh tokens, one per request — is neither
   * hashed nor kept, nor does it push out the tokens clients keep sending; a token sent again is verified twice
   * before it is remembered (TinyLFU's doorkeeper, Einziger et al. 2017). The fingerprint decides nothing but
   * whether to look or to keep: a token it takes for another's was verified all the same, and is looked up by its
   * SHA-256. Returns whether `value` was remembered. Since kit 1.4.0.
   */
  remember(token: string, value: T, until: number): boolean {
    const fingerprint = fingerprintOf(token);
    const slot = fingerprint & (this.#seen.length - 1);
    if (this.#seen[slot] !== fingerprint) {
      this.#seen[slot] = fingerprint;
      return false;
    }
    this.set(VerifiedTokens.key(token), value, until);
    return true;
  }

  #forget(entry: Entry<T>): void {
    this.#entries.delete(entry.key);
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
  }
}
