import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { methodTestContext } from 'portcullis/conformance';
import { HtpasswdFile } from '../htpasswd-file.js';

/** @import { TestMethodContext } from 'portcullis/conformance' */
/** @import { WatchOptions } from '../htpasswd-file.js' */

const dir = mkdtempSync(join(tmpdir(), 'htpasswd-file-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const entry = (/** @type {string} */ user) => `${user}:$2y$04$${'a'.repeat(53)}\n`;
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The users `file` holds now. @param {HtpasswdFile} file */
const users = async (file) => [...(await file.entries()).keys()];

/**
 * Opens a fresh file `name` holding alice, with `options` and the logger of a test context, runs `body` with it and
 * the lines logged, and closes it, then the context.
 *
 * @param {string} name
 * @param {WatchOptions} options
 * @param {(opened: { file: HtpasswdFile, path: string, logs: TestMethodContext['logs'] }) => Promise<void>} body
 */
async function withFile(name, options, body) {
  const path = join(dir, name);
  writeFileSync(path, entry('alice'));
  const { ctx, logs, close } = await methodTestContext({ name: 'htpasswd' });
  try {
    const file = await HtpasswdFile.open(path, ctx.log, options);
    try {
      assert.deepEqual(await users(file), ['alice']);
      await body({ file, path, logs });
    } finally {
      file.close();
    }
  } finally {
    await close();
  }
}

// A day: the watch fires, but reads only then, so that what a lookup checks is all that can see a change.
const NO_WATCH = 864e5;

describe('HtpasswdFile: the two ways a change is noticed, each on its own', () => {
  it('the watch: a change is read shortly after, with no lookup checking the file', () =>
    withFile('watched', { debounceMs: 20, statIntervalMs: 1e9 }, async ({ file, path }) => {
      writeFileSync(path, entry('bob'));
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && (await users(file))[0] !== 'bob') await sleep(20);
      assert.deepEqual(await users(file), ['bob']);
    }));

  it('the check on use: a lookup due for a check reads a changed file before it answers, with no watch', () =>
    withFile('checked', { debounceMs: NO_WATCH, statIntervalMs: 0 }, async ({ file, path }) => {
      writeFileSync(path, entry('bob'));
      assert.deepEqual(await users(file), ['bob']);
    }));

  it('the check on use, when the file goes: the entries read before are kept, with one warning', () =>
    withFile('going', { debounceMs: NO_WATCH, statIntervalMs: 0 }, async ({ file, path, logs }) => {
      unlinkSync(path);
      assert.deepEqual(await users(file), ['alice']);
      assert.deepEqual(await users(file), ['alice']);
      const warnings = logs.filter((line) => line.level === 'warn').map((line) => line.msg);
      assert.deepEqual(warnings, [
        `cannot read htpasswd file ${JSON.stringify(path)}: ENOENT: no such file or directory; the 1 user read before are kept`,
      ]);
      writeFileSync(path, entry('bob'));
      assert.deepEqual(await users(file), ['bob']);
    }));

  it('the check on use runs at most once per interval', () =>
    withFile('rarely', { debounceMs: NO_WATCH, statIntervalMs: 500 }, async ({ file, path }) => {
      writeFileSync(path, entry('bob'));
      assert.deepEqual(await users(file), ['alice']);
      await sleep(600);
      assert.deepEqual(await users(file), ['bob']);
    }));
});
