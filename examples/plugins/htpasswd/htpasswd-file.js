/**
 * An htpasswd file kept in memory and read again when it changes: a watch on its folder (which also sees a file
 * replaced by a rename, or a Kubernetes secret volume swapping its `..data` link) reads it again shortly after any
 * change there, and a lookup checks the file's size, times and inode at most once a second, for the changes a
 * watch misses (network file systems, a full inotify table). A read that fails keeps the entries read before.
 *
 * Every log line starts with the setting (`authentication.methods.htpasswd.file: …`) and names the path whole: when
 * the path came from a `${secret:…}` reference, portcullis writes it as `[REDACTED]` (it removes every resolved value
 * from its logs, but only a value it finds whole, so the path is never cut here), and the setting still says which
 * file the line is about.
 */

import { watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MAX_NAMED_FILE_BYTES, quoteValue, readTextFileLimited } from 'portcullis/plugin';
import { FILE_SETTING, notRegularFile } from './config.js';
import { parseHtpasswd } from './htpasswd-format.js';

/** @import { Logger } from 'portcullis/plugin' */
/** @import { BcryptEntry } from './htpasswd-format.js' */

/**
 * @typedef {object} WatchOptions
 * @property {number} [debounceMs] how long after a change in the folder the file is read (default 100)
 * @property {number} [statIntervalMs] how often, at most, a lookup checks the file (default 1000)
 */

/** What identifies a version of a file without reading it. @param {import('node:fs').Stats} stats */
const signature = (stats) => `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;

/** `1 user`, `2 users`. @param {number} n */
const users = (n) => `${n} user${n === 1 ? '' : 's'}`;

/**
 * What a failed read leaves in use: `the 1 user read before is kept`, `the 2 users read before are kept`.
 *
 * @param {number} n
 */
const kept = (n) =>
  n === 0
    ? 'no user was read before: every user is refused'
    : `the ${users(n)} read before ${n === 1 ? 'is' : 'are'} kept`;

/**
 * Why a read failed, without the path (which the caller names, escaped): `ENOENT: no such file or
 * directory` of Node's `ENOENT: no such file or directory, open '/etc/htpasswd'`.
 *
 * @param {unknown} error
 */
function failure(error) {
  const message = error instanceof Error ? error.message : String(error);
  return /** @type {NodeJS.ErrnoException} */ (error).code === undefined ? message : message.split(', ')[0];
}

export class HtpasswdFile {
  /** @type {string} */ #path;
  /** @type {Logger} */ #log;
  /** @type {number} */ #debounceMs;
  /** @type {number} */ #statIntervalMs;
  /** @type {Map<string, BcryptEntry>} */ #entries = new Map();
  /** The text the entries were read from, to tell a real change from a touch. */
  #text = '';
  #signature = '';
  #lastStat = 0;
  /** @type {Promise<void> | undefined} */ #statting;
  /** @type {Promise<void> | undefined} */ #reading;
  #readAgain = false;
  #loaded = false;
  #failing = false;
  #closed = false;
  /** @type {import('node:fs').FSWatcher | undefined} */ #watcher;
  /** @type {NodeJS.Timeout | undefined} */ #timer;

  /**
   * Reads the file and starts watching it. Rejects, naming the file, when it cannot be read.
   *
   * @param {string} path
   * @param {Logger} log
   * @param {WatchOptions} [options]
   * @returns {Promise<HtpasswdFile>}
   */
  static async open(path, log, options = {}) {
    const file = new HtpasswdFile(path, log, options);
    const problem = await file.#read();
    if (problem !== undefined) throw new Error(problem);
    file.#watch();
    return file;
  }

  /** @private @param {string} path @param {Logger} log @param {WatchOptions} options */
  constructor(path, log, options) {
    this.#path = path;
    this.#log = log;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#statIntervalMs = options.statIntervalMs ?? 1000;
  }

  /**
   * The file as messages name it: quoted and escaped, but not cut, so that portcullis finds a path resolved from a
   * reference whole in the line and redacts it (the first characters of a cut one would be written).
   */
  get shown() {
    return quoteValue(this.#path, Number.POSITIVE_INFINITY);
  }

  /**
   * The entries, by user: the file's current ones, once a check that is due (see the module's documentation) has
   * found it unchanged or read it again.
   *
   * @returns {Promise<ReadonlyMap<string, BcryptEntry>>}
   */
  async entries() {
    if (!this.#closed && performance.now() - this.#lastStat >= this.#statIntervalMs) {
      this.#statting ??= this.#statCheck().finally(() => {
        this.#statting = undefined;
      });
      await this.#statting;
    }
    return this.#entries;
  }

  /** Stops watching. */
  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  async #statCheck() {
    this.#lastStat = performance.now();
    let current;
    try {
      current = signature(await stat(this.#path));
    } catch (error) {
      this.#readFailed(this.#cannotRead(error));
      return;
    }
    if (current !== this.#signature || this.#failing) await this.#readSerially();
  }

  #watch() {
    try {
      // Any change in the folder, not only to the file's name: a secret volume swaps its `..data` link, an editor
      // renames a new file into place. Reading a small file again is cheap, and a text that did not change is kept.
      // Not persistent: a plugin never holds the process open; portcullis calls close() at shutdown.
      this.#watcher = watch(dirname(this.#path), { persistent: false }, () => this.#schedule());
      this.#watcher.on('error', (error) => {
        this.#warn(
          `htpasswd file ${this.shown}: watching stopped (${failure(error)}); changes are noticed on use, within a second`,
        );
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (error) {
      this.#warn(
        `htpasswd file ${this.shown}: cannot watch its folder (${failure(error)}); changes are noticed on use, within a second`,
      );
    }
  }

  #schedule() {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#readSerially();
    }, this.#debounceMs);
    this.#timer.unref();
  }

  /** One read at a time; a change noticed during a read is read again after it. */
  #readSerially() {
    if (this.#reading !== undefined) {
      this.#readAgain = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#readAgain = false;
        const problem = await this.#read();
        if (problem !== undefined) this.#readFailed(problem);
      } while (this.#readAgain && !this.#closed);
    })().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  /**
   * Reads and parses the file, and swaps the entries in when its text changed. Resolves to why it could not be read,
   * or to `undefined`.
   *
   * @returns {Promise<string | undefined>}
   */
  async #read() {
    let text;
    let stats;
    try {
      stats = await stat(this.#path);
      // Not opened unless it is a regular file: opening a named pipe would wait for a writer.
      const problem = notRegularFile(stats);
      if (problem !== undefined) return `htpasswd file ${this.shown} ${problem}`;
      text = await readTextFileLimited(this.#path, MAX_NAMED_FILE_BYTES);
    } catch (error) {
      return this.#cannotRead(error);
    }
    if (this.#closed) return undefined;
    this.#signature = signature(stats);
    if (this.#failing) this.#info(`htpasswd file ${this.shown} can be read again`);
    this.#failing = false;
    if (this.#loaded && text === this.#text) return undefined;
    const { entries, skipped } = parseHtpasswd(text);
    for (const { line, user, problem } of skipped) {
      this.#warn(
        `htpasswd file ${this.shown}, line ${line}${user === undefined ? '' : `, user ${quoteValue(user)}`}: skipped, ${problem}`,
      );
    }
    if (entries.size === 0)
      this.#warn(`htpasswd file ${this.shown} has no bcrypt entry: every user is refused`);
    if (this.#loaded) this.#info(`htpasswd file ${this.shown} read again: ${users(entries.size)}`);
    this.#entries = entries;
    this.#text = text;
    this.#loaded = true;
    return undefined;
  }

  /**
   * Why the file cannot be read, as `create` refuses it (through `ctx.configError`, which locates it at the setting
   * itself) and as a warning says it after the setting.
   *
   * @param {unknown} error
   */
  #cannotRead(error) {
    return `cannot read htpasswd file ${this.shown}: ${failure(error)}`;
  }

  /** Warns once until the file can be read again. @param {string} problem */
  #readFailed(problem) {
    if (this.#failing || this.#closed) return;
    this.#failing = true;
    this.#warn(`${problem}; ${kept(this.#entries.size)}`);
  }

  /** @param {string} message */
  #warn(message) {
    this.#log.warn(`${FILE_SETTING}: ${message}`);
  }

  /** @param {string} message */
  #info(message) {
    this.#log.info(`${FILE_SETTING}: ${message}`);
  }
}
