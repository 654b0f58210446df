/**
 * The plugin through portcullis's conformance kit (`portcullis/conformance`), with `node:test`: a real portcullis
 * server with this plugin registered, refusals, leaks, handles and concurrency checked as for the built-in methods.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import bcrypt from 'bcryptjs';
import { methodPluginCases } from 'portcullis/conformance';
import { describeCases } from 'portcullis/conformance/node-test';
import htpasswd from '../index.js';

const basic = (/** @type {string} */ user, /** @type {string} */ password) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const PASSWORD = 'lovelace-4f2a9c';
const WRONG = 'babbage-9c1e07';
const HASH = bcrypt.hashSync(PASSWORD, 4).replace(/^\$2b\$/, '$2y$');
// An entry of a kind not read here, whose text must not reach a log line either.
const PLAIN = 'plain-text-in-the-file-5b8d';

const dir = mkdtempSync(join(tmpdir(), 'htpasswd-conformance-'));
const file = join(dir, 'users.htpasswd');
writeFileSync(file, `ada:${HASH}\ncharles:${PLAIN}\n`);
after(() => rmSync(dir, { recursive: true, force: true }));

describeCases(
  'htpasswd conformance',
  methodPluginCases(htpasswd, {
    config: { file },
    goodCredential: basic('ada', PASSWORD),
    badCredential: basic('ada', WRONG),
    // No foreignCredential: a Basic credential for a user the file lacks is refused (unknown_user), not left to
    // another method, so the harness's foreign case is skipped, saying so.
    secrets: [PASSWORD, WRONG, HASH, PLAIN],
  }),
);
