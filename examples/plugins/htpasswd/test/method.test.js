import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { existsSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { methodTestContext } from 'portcullis/conformance';
import { KIT_API_VERSION } from 'portcullis/plugin';
import htpasswd, { METHOD, USER_KEY } from '../index.js';

/** @import { MethodInstance, RootConfig } from 'portcullis/plugin' */

const PASSWORD = 'open-sesame-4c1d';
const basic = (/** @type {string} */ user, /** @type {string} */ password) => ({
  scheme: 'Basic',
  value: Buffer.from(`${user}:${password}`).toString('base64'),
});
const line = (/** @type {string} */ user, /** @type {string} */ password, cost = 4) =>
  `${user}:${bcrypt.hashSync(password, cost)}\n`;
const root = /** @type {RootConfig} */ ({});

/** Polls `check` until it holds, for up to `ms`. @param {() => Promise<boolean> | boolean} check */
async function eventually(check, ms = 3000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`not within ${ms} ms`);
}

/**
 * The refusal `promise` rejects with: its code, reason and message.
 *
 * @param {unknown} promise what `authenticate` answered (kit 1.4.0 lets it answer at once: awaited either way)
 */
async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    const { code, reason, message } = /** @type {{ code: string, reason: string, message: string }} */ (
      error
    );
    return { code, reason, message };
  }
  return assert.fail('authenticated');
}

/**
 * The median time of each of two kinds of work, in ms, measured in turns (a, b, a, b, …) so that a busy moment of a
 * shared machine weighs on both alike.
 *
 * @param {() => Promise<unknown>} a
 * @param {() => Promise<unknown>} b
 */
async function medianMs(a, b, n = 7) {
  /** @type {[number[], number[]]} */
  const times = [[], []];
  for (let i = 0; i < n; i++) {
    for (const [index, work] of /** @type {const} */ ([a, b]).entries()) {
      const started = performance.now();
      await work().catch(() => {});
      times[index]?.push(performance.now() - started);
    }
  }
  const median = (/** @type {number[]} */ list) => list.sort((x, y) => x - y)[Math.floor(n / 2)] ?? 0;
  return times.map(median);
}

describe('the htpasswd method', () => {
  /** @type {string} */
  let dir;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'htpasswd-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A method created on a fresh file holding `text`, with the lines it logged; `close` closes the method, then its
   * context.
   *
   * @param {string} text
   */
  async function start(text, name = 'htpasswd') {
    const file = join(dir, name);
    writeFileSync(file, text);
    const context = await methodTestContext({ name: 'htpasswd' });
    const method = /** @type {Required<MethodInstance>} */ (
      await htpasswd.create(context.ctx, { enabled: true, file })
    );
    const close = async () => {
      await method.close();
      await context.close();
    };
    return { method, logs: context.logs, file, close };
  }

  describe('validate', () => {
    it('requires file, stats a literal path, refuses one that is not a regular file, and leaves a ${secret:…} reference alone', () => {
      const validate = /** @type {NonNullable<typeof htpasswd.validate>} */ (htpasswd.validate);
      assert.deepEqual(validate({ enabled: true }, root), [
        { path: ['file'], message: 'htpasswd: file non-empty value is required' },
      ]);
      assert.deepEqual(validate({ enabled: true, file: '' }, root), [
        { path: ['file'], message: 'htpasswd: file non-empty value is required' },
      ]);
      assert.deepEqual(validate({ enabled: true, file: '${secret:file:htpasswd-path}' }, root), []);
      assert.deepEqual(validate({ enabled: true, file: join(dir, 'nowhere') }, root), [
        {
          path: ['file'],
          message: `htpasswd: file stat ${join(dir, 'nowhere')}: no such file or directory`,
        },
      ]);
      assert.deepEqual(validate({ enabled: true, file: dir }, root), [
        { path: ['file'], message: `htpasswd: file ${dir} is a directory, not a regular file` },
      ]);
      if (existsSync('/dev/null')) {
        assert.deepEqual(validate({ enabled: true, file: '/dev/null' }, root), [
          { path: ['file'], message: 'htpasswd: file /dev/null is a character device, not a regular file' },
        ]);
      }
      // A symbolic link to a regular file is one (a Kubernetes secret volume's files are links).
      writeFileSync(join(dir, 'linked'), line('alice', PASSWORD));
      symlinkSync(join(dir, 'linked'), join(dir, 'link'));
      assert.deepEqual(validate({ enabled: true, file: join(dir, 'link') }, root), []);
    });

    it('is declared for this kit, with a closed schema', () => {
      assert.equal(htpasswd.kind, 'method');
      // defineMethod writes the version of the kit it comes from: the portcullis this runs on.
      assert.equal(htpasswd.apiVersion, `^${KIT_API_VERSION}`);
      assert.equal(htpasswd.configSchema.additionalProperties, false);
    });

    for (const { what, file, message } of [
      {
        what: 'a file that cannot be read',
        file: () => join(dir, 'missing'),
        message: () =>
          `cannot read htpasswd file ${JSON.stringify(join(dir, 'missing'))}: ENOENT: no such file or directory`,
      },
      {
        what: 'a directory',
        file: () => dir,
        message: () => `htpasswd file ${JSON.stringify(dir)} is a directory, not a regular file`,
      },
    ]) {
      it(`refuses, in create, ${what} (a path a reference resolved to), located at its block`, async () => {
        const { ctx, close } = await methodTestContext({ name: 'htpasswd' });
        try {
          await assert.rejects(async () => htpasswd.create(ctx, { enabled: true, file: file() }), {
            name: 'ConfigError',
            code: 'ERR_CONFIG_INVALID',
            issues: [{ path: ['authentication', 'methods', 'htpasswd', 'file'], message: message() }],
          });
        } finally {
          await close();
        }
      });
    }
  });

  describe('authenticate', () => {
    /** @type {Awaited<ReturnType<typeof start>>} */
    let started;
    before(async () => {
      started = await start(
        [
          line('alice', PASSWORD),
          'bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n',
          'carol:plain-text-kept-by-mistake\n',
          `zoë:${bcrypt.hashSync('pässwörd', 4).replace('$2b$', '$2a$')}\n`,
        ].join(''),
      );
    });
    after(() => started.close());

    it('admits a right password, as the user, whom the identity hook names', async () => {
      const authentication = await started.method.authenticate(basic('alice', PASSWORD));
      assert.deepEqual(authentication, { id: '', method: METHOD, metadata: { [USER_KEY]: 'alice' } });
      assert.deepEqual(started.method.identity(/** @type {any} */ (authentication)), { user: 'alice' });
      assert.deepEqual(await started.method.authenticate(basic('zoë', 'pässwörd')), {
        id: '',
        method: METHOD,
        metadata: { [USER_KEY]: 'zoë' },
      });
      // Again, from what it remembers.
      assert.deepEqual(await started.method.authenticate(basic('alice', PASSWORD)), authentication);
    });

    it('owns the Basic scheme', () => {
      assert.deepEqual(started.method.schemes, ['Basic']);
    });

    for (const [what, credential, reason] of [
      ['a wrong password', basic('alice', 'not-it'), 'wrong_password'],
      ['a right password for another user', basic('zoë', PASSWORD), 'wrong_password'],
      ['an unknown user', basic('mallory', PASSWORD), 'unknown_user'],
      ['a user whose entry was skipped', basic('bob', PASSWORD), 'unknown_user'],
      ['a user in another case', basic('Alice', PASSWORD), 'unknown_user'],
      [
        'a credential that is not base64',
        { scheme: 'Basic', value: 'alice:secret' },
        'credential_not_base64',
      ],
      ['a credential without a colon', { scheme: 'Basic', value: 'YWxpY2U=' }, 'credential_without_colon'],
      ['a credential with no user', basic('', PASSWORD), 'empty_user'],
    ]) {
      it(`refuses ${what}: ERR_UNAUTHENTICATED, ${reason}`, async () => {
        const {
          code,
          reason: given,
          message,
        } = await refusal(started.method.authenticate(/** @type {any} */ (credential)));
        assert.deepEqual({ code, reason: given }, { code: 'ERR_UNAUTHENTICATED', reason });
        assert.ok(!message.includes(PASSWORD) && !message.includes('not-it'), message);
      });
    }

    it('warns once for each skipped entry, naming the user and the kind, never the hash', () => {
      const warnings = started.logs
        .filter((entry) => entry.level === 'warn')
        .map((entry) => String(entry.msg));
      assert.equal(warnings.length, 2);
      assert.match(warnings[0] ?? '', /line 2, user "bob": skipped, SHA-1 \(\{SHA\}\) is not supported/);
      assert.match(warnings[1] ?? '', /line 3, user "carol": skipped, plain text or a kind not recognised/);
      const logged = started.logs.map((entry) => JSON.stringify(entry)).join('\n');
      for (const secret of [
        'W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
        'plain-text-kept-by-mistake',
        PASSWORD,
        '$2b$04$',
      ]) {
        assert.ok(!logged.includes(secret), secret);
      }
    });

    it('takes as long to refuse an unknown user as a wrong password (a decoy hash of the usual cost)', async () => {
      const costly = await start(line('dave', PASSWORD, 8), 'costly');
      try {
        const [wrong = 0, unknown = 0] = await medianMs(
          async () => costly.method.authenticate(basic('dave', 'not-it')),
          async () => costly.method.authenticate(basic('mallory', 'not-it')),
        );
        // Without the decoy, an unknown user is refused in well under a hundredth of the time.
        const ratio = unknown / wrong;
        assert.ok(ratio > 0.25 && ratio < 4, `unknown user ${unknown} ms, wrong password ${wrong} ms`);
      } finally {
        await costly.close();
      }
    });
  });

  describe('the file changing', () => {
    it('takes a new password without a restart, and forgets the old one though it was remembered', async () => {
      const { method, logs, file, close } = await start(line('alice', PASSWORD), 'changing');
      try {
        await method.authenticate(basic('alice', PASSWORD));
        writeFileSync(file, line('alice', 'new-password-77b2'));
        await eventually(() =>
          (async () => method.authenticate(basic('alice', 'new-password-77b2')))().then(
            () => true,
            () => false,
          ),
        );
        assert.equal((await refusal(method.authenticate(basic('alice', PASSWORD)))).reason, 'wrong_password');
        assert.ok(
          logs.some((entry) => entry.level === 'info' && /read again: 1 user$/.test(String(entry.msg))),
        );
      } finally {
        await close();
      }
    });

    it('keeps the last entries when the file goes, warning once, and reads it again when it is back', async () => {
      const { method, logs, file, close } = await start(line('alice', PASSWORD), 'vanishing');
      try {
        unlinkSync(file);
        const warned = () => logs.filter((entry) => /cannot read htpasswd file/.test(String(entry.msg)));
        await eventually(async () => {
          await method.authenticate(basic('alice', PASSWORD));
          return warned().length > 0;
        });
        await method.authenticate(basic('alice', PASSWORD));
        assert.equal(warned().length, 1);
        assert.equal(
          String(warned()[0]?.msg),
          `authentication.methods.htpasswd.file: cannot read htpasswd file ${JSON.stringify(file)}: ENOENT: no such file or directory; the 1 user read before is kept`,
        );
        writeFileSync(file, line('bob', 'back-again-0a5e'));
        await eventually(() =>
          (async () => method.authenticate(basic('bob', 'back-again-0a5e')))().then(
            () => true,
            () => false,
          ),
        );
        assert.ok(logs.some((entry) => String(entry.msg).endsWith('can be read again')));
      } finally {
        await close();
      }
    });

    it('stops watching at close: the watcher is released, and a change is no longer read', async () => {
      // The watcher does not hold the process open (it is not persistent), so it is followed from its creation.
      const watchers = new Set();
      const hook = createHook({
        init: (id, type) => void (type === 'FSEVENTWRAP' && watchers.add(id)),
        destroy: (id) => void watchers.delete(id),
      }).enable();
      try {
        const { method, file, close } = await start(line('alice', PASSWORD), 'closing');
        assert.equal(watchers.size, 1);
        await close();
        await eventually(() => watchers.size === 0);
        writeFileSync(file, line('alice', 'after-close-5d1f'));
        await new Promise((resolve) => setTimeout(resolve, 300));
        const { reason } = await refusal(method.authenticate(basic('alice', 'after-close-5d1f')));
        assert.equal(reason, 'wrong_password');
      } finally {
        hook.disable();
      }
    });
  });
});
