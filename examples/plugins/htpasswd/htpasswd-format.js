/**
 * The format of an Apache htpasswd file, as `mod_authn_file` reads it: one `user:hash` per line, surrounding
 * whitespace ignored, blank lines and lines starting with `#` skipped, the hash ending at the next colon if any,
 * and the first line for a user the one that counts.
 */

/** A bcrypt hash as `htpasswd -B` writes it (`$2y$`), or as other tools do (`$2a$`, `$2b$`). */
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

/**
 * The hash kinds htpasswd and its neighbours write, by prefix: named in warnings instead of the hash.
 *
 * @type {ReadonlyArray<readonly [string, string]>}
 */
const OTHER_KINDS = [
  ['$apr1$', 'Apache MD5 ($apr1$)'],
  ['{SHA}', 'SHA-1 ({SHA})'],
  ['$1$', 'MD5-crypt ($1$)'],
  ['$5$', 'SHA-256-crypt ($5$)'],
  ['$6$', 'SHA-512-crypt ($6$)'],
  ['$argon2', 'Argon2'],
  ['$2x$', 'bcrypt of the flawed $2x$ revision'],
  ['$2$', 'bcrypt of the original $2$ revision'],
];

/**
 * @typedef {object} BcryptEntry
 * @property {string} hash the whole bcrypt string
 * @property {number} cost its cost factor (log2 of the rounds)
 */

/**
 * A line left out, and why: `user` when the line names one, `kind` when its hash is of a kind not read here.
 * Nothing of the hash itself is kept.
 *
 * @typedef {object} SkippedLine
 * @property {number} line 1-based
 * @property {string} [user]
 * @property {string} problem
 */

/**
 * What a hash is, in words that repeat none of it: a plain-text password must not reach a log because it sits
 * where a hash should.
 *
 * @param {string} hash
 * @returns {string}
 */
export function hashKind(hash) {
  if (hash === '') return 'an empty password field';
  if (/^\$2[aby]\$/.test(hash)) return 'a malformed bcrypt hash';
  for (const [prefix, kind] of OTHER_KINDS) if (hash.startsWith(prefix)) return kind;
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'DES crypt or plain text';
  return 'plain text or a kind not recognised';
}

/**
 * Reads an htpasswd file's text: the bcrypt entries by user (a `Map`, so that any user name is only a key), and
 * every line left out.
 *
 * @param {string} text
 * @returns {{ entries: Map<string, BcryptEntry>, skipped: SkippedLine[] }}
 */
export function parseHtpasswd(text) {
  /** @type {Map<string, BcryptEntry>} */
  const entries = new Map();
  /** @type {Map<string, number>} */
  const firstLine = new Map();
  /** @type {SkippedLine[]} */
  const skipped = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const content = raw.trim();
    if (content === '' || content.startsWith('#')) continue;
    const colon = content.indexOf(':');
    if (colon === -1) {
      skipped.push({ line, problem: 'it has no colon between user and hash' });
      continue;
    }
    if (colon === 0) {
      skipped.push({ line, problem: 'it names no user' });
      continue;
    }
    const user = content.slice(0, colon);
    const rest = content.slice(colon + 1);
    const end = rest.indexOf(':');
    const hash = end === -1 ? rest : rest.slice(0, end);
    const first = firstLine.get(user);
    if (first !== undefined) {
      skipped.push({ line, user, problem: `the user already has an entry, on line ${first}` });
      continue;
    }
    firstLine.set(user, line);
    const bcrypt = BCRYPT.exec(hash);
    if (bcrypt === null) {
      skipped.push({
        line,
        user,
        problem: `${hashKind(hash)} is not supported, only bcrypt ($2y$, $2a$, $2b$)`,
      });
      continue;
    }
    entries.set(user, { hash, cost: Number(bcrypt[1]) });
  }
  return { entries, skipped };
}
