import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HtpasswdFile } from '../htpasswd-file.js';
import { fakeContext } from './fake-context.js';

const entry = (/** @type {string} */ user) => `${user}:$2y$04$${'a'.repeat(53)}\n`;
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The users `file` holds now. @param {HtpasswdFile} file */
const users = async (file) => [...(await file.entries()).keys()];

describe('HtpasswdFile: the two ways a change is noticed, each on its own', () => {
  /** @type {string} */
  let dir;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'htpasswd-file-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the watch: a change is read shortly after, with no lookup checking the file', async () => {
    const path = join(dir, 'watched');
    writeFileSync(path, entry('alice'));
    const file = await HtpasswdFile.open(path, fakeContext().ctx.log, {
      debounceMs: 20,
      statIntervalMs: 1e9,
    });
    try {
      assert.deepEqual(await users(file), ['alice']);
      writeFileSync(path, entry('bob'));
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && (await users(file))[0] !== 'bob') await sleep(20);
      assert.deepEqual(await users(file), ['bob']);
    } finally {
      file.close();
    }
  });

  it('the check on use: a lookup due for a check reads a changed file before it answers, with no watch', async () => {
    const path = join(dir, 'checked');
    writeFileSync(path, entry('alice'));
    // The watch fires, but reads only after a day: the lookup's check is all that can see the change.
    const file = await HtpasswdFile.open(path, fakeContext().ctx.log, {
      debounceMs: 864e5,
      statIntervalMs: 0,
    });
    try {
      assert.deepEqual(await users(file), ['alice']);
      writeFileSync(path, entry('bob'));
      assert.deepEqual(await users(file), ['bob']);
    } finally {
      file.close();
    }
  });

  it('the check on use, when the file goes: the entries read before are kept, with one warning', async () => {
    const path = join(dir, 'going');
    writeFileSync(path, entry('alice'));
    const { ctx, lines } = fakeContext();
    const file = await HtpasswdFile.open(path, ctx.log, { debounceMs: 864e5, statIntervalMs: 0 });
    try {
      unlinkSync(path);
      assert.deepEqual(await users(file), ['alice']);
      assert.deepEqual(await users(file), ['alice']);
      const warnings = lines.filter((line) => line.level === 'warn').map((line) => line.message);
      assert.deepEqual(warnings, [
        `cannot read htpasswd file ${JSON.stringify(path)}: ENOENT: no such file or directory; the 1 user read before are kept`,
      ]);
      writeFileSync(path, entry('bob'));
      assert.deepEqual(await users(file), ['bob']);
    } finally {
      file.close();
    }
  });

  it('the check on use runs at most once per interval', async () => {
    const path = join(dir, 'rarely');
    writeFileSync(path, entry('alice'));
    const file = await HtpasswdFile.open(path, fakeContext().ctx.log, {
      debounceMs: 864e5,
      statIntervalMs: 300,
    });
    try {
      assert.deepEqual(await users(file), ['alice']);
      writeFileSync(path, entry('bob'));
      assert.deepEqual(await users(file), ['alice']);
      await sleep(600);
      assert.deepEqual(await users(file), ['bob']);
    } finally {
      file.close();
    }
  });
});
