import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBasicCredential } from '../basic-credential.js';

const encode = (/** @type {string | Buffer} */ text) => Buffer.from(text).toString('base64');

describe('parseBasicCredential (RFC 7617)', () => {
  it('splits user and password at the first colon; the password may hold colons or be empty', () => {
    assert.deepEqual(parseBasicCredential(encode('alice:open sesame')), {
      ok: true,
      user: 'alice',
      password: 'open sesame',
    });
    assert.deepEqual(parseBasicCredential(encode('alice:a:b:')), {
      ok: true,
      user: 'alice',
      password: 'a:b:',
    });
    assert.deepEqual(parseBasicCredential(encode('alice:')), { ok: true, user: 'alice', password: '' });
  });

  it('reads UTF-8, and takes base64 with or without its padding', () => {
    assert.deepEqual(parseBasicCredential(encode('zoë:pässwörd')), {
      ok: true,
      user: 'zoë',
      password: 'pässwörd',
    });
    assert.deepEqual(parseBasicCredential(encode('ab:c').replace(/=+$/, '')), {
      ok: true,
      user: 'ab',
      password: 'c',
    });
  });

  /** @type {Array<[string, string, string]>} */
  const malformed = [
    ['an empty credential', '', 'credential_not_base64'],
    ['characters outside base64', '%%%', 'credential_not_base64'],
    ['base64 with a space inside', `${encode('alice:x')} x`, 'credential_not_base64'],
    ['impossible padding', 'YQ===', 'credential_not_base64'],
    ['bytes that are not UTF-8', encode(Buffer.from([0x61, 0x3a, 0xff])), 'credential_not_utf8'],
    ['no colon', encode('alice'), 'credential_without_colon'],
    ['an empty user', encode(':secret'), 'empty_user'],
  ];
  for (const [what, value, reason] of malformed) {
    it(`refuses ${what} as ${reason}, repeating none of it`, () => {
      const parsed = parseBasicCredential(value);
      assert.equal(parsed.ok, false);
      assert.equal(parsed.ok === false && parsed.reason, reason);
      assert.ok(parsed.ok === false && !parsed.message.includes(value || '\u0000'));
    });
  }
});
