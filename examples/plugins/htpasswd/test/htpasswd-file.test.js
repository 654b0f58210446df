import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

const SETTING = 'authentication.methods.htpasswd.file';

/** The warnings logged. @param {TestMethodContext['logs']} logs */
const warnings = (logs) => logs.filter((line) => line.level === 'warn').map((line) => String(line.msg));

/**
 * Opens a fresh file `name` holding `text` (alice by default), with `options` and the logger of a test context, runs
 * `body` with it and the lines logged, and closes it, then the context.
 *
 * @param {string} name
 * @param {WatchOptions} options
 * @param {(opened: { file: HtpasswdFile, path: string, logs: TestMethodContext['logs'] }) => Promise<void>} body
 * @param {string} [text]
 */
async function withFile(name, options, body, text = entry('alice')) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const { ctx, logs, close } = await methodTestContext({ name: 'htpasswd' });
  try {
    const file = await HtpasswdFile.open(path, ctx.log, options);
    try {
      if (text === entry('alice')) assert.deepEqual(await users(file), ['alice']);
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
      assert.deepEqual(warnings(logs), [
        `${SETTING}: cannot read htpasswd file ${JSON.stringify(path)}: ENOENT: no such file or directory; the 1 user read before is kept`,
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

/** Whether `mkfifo` can make a named pipe here. */
function mkfifo(/** @type {string} */ path) {
  try {
    execFileSync('mkfifo', [path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('HtpasswdFile: what a failed read says', () => {
  it('counts the users kept in words that agree with the number', async () => {
    for (const [text, said] of [
      [entry('alice') + entry('bob'), 'the 2 users read before are kept'],
      ['# nobody yet\n', 'no user was read before: every user is refused'],
    ]) {
      await withFile(
        'counted',
        { debounceMs: NO_WATCH, statIntervalMs: 0 },
        async ({ file, path, logs }) => {
          unlinkSync(path);
          await file.entries();
          assert.equal(
            warnings(logs).at(-1),
            `${SETTING}: cannot read htpasswd file ${JSON.stringify(path)}: ENOENT: no such file or directory; ${said}`,
          );
        },
        text,
      );
    }
  });

  it("names a directory put in the file's place as such, and keeps the users read before", () =>
    withFile('replaced', { debounceMs: NO_WATCH, statIntervalMs: 0 }, async ({ file, path, logs }) => {
      unlinkSync(path);
      mkdirSync(path);
      assert.deepEqual(await users(file), ['alice']);
      assert.deepEqual(warnings(logs), [
        `${SETTING}: htpasswd file ${JSON.stringify(path)} is a directory, not a regular file; the 1 user read before is kept`,
      ]);
      rmdirSync(path);
      writeFileSync(path, entry('bob'));
      assert.deepEqual(await users(file), ['bob']);
    }));

  it('does not open a named pipe put in its place (it would wait for a writer for ever)', (t) =>
    withFile('piped', { debounceMs: NO_WATCH, statIntervalMs: 0 }, async ({ file, path, logs }) => {
      unlinkSync(path);
      if (!mkfifo(path)) return t.skip('mkfifo is not available');
      assert.deepEqual(await users(file), ['alice']);
      assert.deepEqual(warnings(logs), [
        `${SETTING}: htpasswd file ${JSON.stringify(path)} is a named pipe, not a regular file; the 1 user read before is kept`,
      ]);
    }));

  it('names the setting first and the path whole, however long, so that portcullis can redact one a reference resolved to', () => {
    const long = join('a-folder-with-a-name-long-enough-to-be-cut-in-a-configuration-message', 'users');
    mkdirSync(join(dir, dirname(long)));
    return withFile(long, { debounceMs: NO_WATCH, statIntervalMs: 0 }, async ({ file, path, logs }) => {
      assert.ok(path.length > 64);
      unlinkSync(path);
      await file.entries();
      const [warning = ''] = warnings(logs);
      assert.ok(warning.startsWith(`${SETTING}: `), warning);
      assert.ok(warning.includes(JSON.stringify(path)), warning);
    });
  });
});
