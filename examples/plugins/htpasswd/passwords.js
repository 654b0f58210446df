/**
 * Password checks against bcrypt entries, with `bcryptjs` (pure JavaScript, so installing the plugin builds
 * nothing): as costly for a user the file does not have as for one it has, and paid once for a client that sends
 * the same right password with every request.
 */

import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { VerifiedTokens } from 'portcullis/plugin';

/** @import { BcryptEntry } from './htpasswd-format.js' */

/** The characters of bcrypt's own base64. */
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** How long a right password is remembered, at most; a changed entry or a removed user ends it at once. */
const REMEMBER_MS = 5 * 60 * 1000;

/**
 * A bcrypt hash no password matches in practice (a random salt and checksum), of the given cost: what a password
 * for an unknown user is checked against, so that it takes as long to refuse as a wrong password for a known one.
 *
 * @param {number} cost
 */
function decoyHash(cost) {
  const chars = Array.from(randomBytes(53), (byte) => BCRYPT_ALPHABET[byte % 64]).join('');
  return `$2y$${String(cost).padStart(2, '0')}$${chars}`;
}

/**
 * The cost most entries have (the higher one on a tie), 10 (htpasswd's default) when there are none: the cost of
 * the decoy, so that refusing an unknown user costs what refusing a typical known one does.
 *
 * @param {Iterable<BcryptEntry>} entries
 */
export function typicalCost(entries) {
  /** @type {Map<number, number>} */
  const counts = new Map();
  for (const { cost } of entries) counts.set(cost, (counts.get(cost) ?? 0) + 1);
  let best = 10;
  let most = 0;
  for (const [cost, count] of counts) {
    if (count > most || (count === most && cost > best)) [best, most] = [cost, count];
  }
  return best;
}

export class PasswordChecker {
  /** A key only this process knows, so that what the cache holds says nothing about a password elsewhere. */
  #key = randomBytes(32);
  /** @type {VerifiedTokens<true>} */
  #verified;
  /** @type {() => number} */
  #now;
  /** @type {{ cost: number, hash: string } | undefined} */
  #decoy;

  /**
   * @param {{ now: () => number, capacity?: number }} options `now` in milliseconds since the epoch
   */
  constructor(options) {
    this.#now = options.now;
    this.#verified = new VerifiedTokens(options.capacity ?? 1000);
  }

  /**
   * Whether `password` is the one `entry` holds; with no entry (an unknown user), checks it against a decoy of
   * `decoyCost` and resolves to `false`.
   *
   * @param {string} user
   * @param {string} password
   * @param {BcryptEntry | undefined} entry
   * @param {number} decoyCost
   * @returns {Promise<boolean>}
   */
  async check(user, password, entry, decoyCost) {
    if (entry === undefined) {
      if (this.#decoy?.cost !== decoyCost) this.#decoy = { cost: decoyCost, hash: decoyHash(decoyCost) };
      await bcrypt.compare(password, this.#decoy.hash);
      return false;
    }
    // The entry's hash is part of the key: a new password in the file is checked afresh.
    const key = createHmac('sha256', this.#key)
      .update(JSON.stringify([user, entry.hash, password]))
      .digest('base64url');
    const now = this.#now();
    if (this.#verified.get(key, now) === true) return true;
    const right = await bcrypt.compare(password, entry.hash);
    if (right) this.#verified.set(key, true, now + REMEMBER_MS);
    return right;
  }
}
