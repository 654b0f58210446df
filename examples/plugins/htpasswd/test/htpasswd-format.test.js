import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashKind, parseHtpasswd } from '../htpasswd-format.js';

const BCRYPT = `$2y$05$abcdefghijklmnopqrstuu${'A'.repeat(31)}`;

describe('parseHtpasswd', () => {
  it('reads bcrypt entries as mod_authn_file does: comments, blank lines, whitespace and CRLF ignored', () => {
    const text = `\uFEFF# a comment\r\n\r\n  alice:${BCRYPT}  \r\nbob:${BCRYPT.replace('$2y$', '$2a$')}:extra field\n\tcarol:${BCRYPT.replace('$2y$05', '$2b$12')}\n`;
    const { entries, skipped } = parseHtpasswd(text);
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      [...entries],
      [
        ['alice', { hash: BCRYPT, cost: 5 }],
        ['bob', { hash: BCRYPT.replace('$2y$', '$2a$'), cost: 5 }],
        ['carol', { hash: BCRYPT.replace('$2y$05', '$2b$12'), cost: 12 }],
      ],
    );
  });

  it('keeps the first line of a user, as Apache does, and names the others', () => {
    const { entries, skipped } = parseHtpasswd(`alice:${BCRYPT}\nalice:${BCRYPT.replace('05', '06')}\n`);
    assert.equal(entries.get('alice')?.cost, 5);
    assert.deepEqual(skipped, [
      { line: 2, user: 'alice', problem: 'the user already has an entry, on line 1' },
    ]);
  });

  it('skips every other kind of hash, and lines without a user, saying what they are but never what they hold', () => {
    const lines = [
      'md5:$apr1$salt1234$0123456789abcdefghijkl',
      'sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
      'des:abJnggxhB/yWI',
      'plain:correct horse battery staple',
      'sha512:$6$rounds=5000$salt$hash',
      'short:$2y$05$tooShort',
      `buggy:$2x$05$abcdefghijklmnopqrstuu${'A'.repeat(31)}`,
      'a password pasted on its own line',
      ':$2y$05$no-user',
      'empty:',
    ];
    const { entries, skipped } = parseHtpasswd(lines.join('\n'));
    assert.equal(entries.size, 0);
    assert.deepEqual(
      skipped.map(({ line, user, problem }) => `${line} ${user ?? '-'}: ${problem}`),
      [
        '1 md5: Apache MD5 ($apr1$) is not supported, only bcrypt ($2y$, $2a$, $2b$)',
        '2 sha: SHA-1 ({SHA}) is not supported, only bcrypt ($2y$, $2a$, $2b$)',
        '3 des: DES crypt or plain text is not supported, only bcrypt ($2y$, $2a$, $2b$)',
        '4 plain: plain text or a kind not recognised is not supported, only bcrypt ($2y$, $2a$, $2b$)',
        '5 sha512: SHA-512-crypt ($6$) is not supported, only bcrypt ($2y$, $2a$, $2b$)',
        '6 short: a malformed bcrypt hash is not supported, only bcrypt ($2y$, $2a$, $2b$)',
        '7 buggy: bcrypt of the flawed $2x$ revision is not supported, only bcrypt ($2y$, $2a$, $2b$)',
        '8 -: it has no colon between user and hash',
        '9 -: it names no user',
        '10 empty: an empty password field is not supported, only bcrypt ($2y$, $2a$, $2b$)',
      ],
    );
    const said = JSON.stringify(skipped);
    for (const line of lines) {
      const hash = line.slice(line.indexOf(':') + 1);
      if (hash.length > 4) assert.ok(!said.includes(hash), hash);
    }
    assert.ok(!said.includes('pasted'));
  });

  it('names a kind from its prefix only', () => {
    assert.equal(hashKind('{SHA}'), 'SHA-1 ({SHA})');
    assert.equal(hashKind('$5$x'), 'SHA-256-crypt ($5$)');
    assert.equal(hashKind('$argon2id$v=19$m=65536'), 'Argon2');
  });
});
