import { describe, expect, it } from 'vitest';
import { messageRedactor } from './redact.ts';

const schema = {
  type: 'object',
  properties: {
    secret: { type: 'string', writeOnly: true },
    address: { type: 'string' },
    path: { type: 'string' },
    lifetime: { type: 'string' },
    port: { type: 'integer' },
  },
};
const noEnv = { written: {}, references: [], overrides: [] };

describe('messageRedactor', () => {
  it('takes a credential out of any message, in every form a message gives a value', () => {
    const secret = `s3cr3t-${'k'.repeat(80)}\n`;
    const redact = messageRedactor(schema, { secret }, noEnv);
    const label = 'the value of secret (88 characters)';
    for (const shown of [
      JSON.stringify(secret),
      `"s3cr3t-${'k'.repeat(57)}…" (88 characters)`,
      `s3cr3t-${'k'.repeat(57)}… (88 characters)`,
      `s3cr3t-${'k'.repeat(80)}\\n`,
    ]) {
      expect(redact(`address: must be a URL; got ${shown}`, ['address'])).toBe(
        `address: must be a URL; got ${label}`,
      );
    }
    // About its own setting, the message needs not say which setting it is.
    expect(redact(`refused ${JSON.stringify(secret)}`, ['secret'])).toBe('refused a value of 88 characters');
  });

  it('never takes a word of the message for a credential', () => {
    const redact = messageRedactor(schema, { secret: 'same' }, noEnv);
    expect(redact('credential is the same as token "ci"\'s', ['secret'])).toBe(
      'credential is the same as token "ci"\'s',
    );
    expect(redact('got "same"', ['address'])).toBe('got the value of secret (4 characters)');
    const long = messageRedactor(schema, { secret: 'hunter2-hunter2' }, noEnv);
    expect(long(`stat /etc/hunter2-hunter2: no such file`, ['path'])).toBe(
      'stat /etc/the value of secret (15 characters): no such file',
    );
    // Only a whole word: not inside a longer one.
    expect(long('got hunter2-hunter2x', ['path'])).toBe('got hunter2-hunter2x');
  });

  it('names the variable instead of a value the environment set, in the messages about its setting', () => {
    const written = { address: 'ht tp://env-value', path: '/run/key.pem', lifetime: '-90m', port: '99999' };
    const redact = messageRedactor(
      schema,
      { ...written, port: 99999 },
      {
        written,
        references: [{ path: ['address'], variable: 'ADDRESS' }],
        overrides: [
          { path: ['path'], variable: 'FLIPT_PATH' },
          { path: ['lifetime'], variable: 'FLIPT_LIFETIME' },
          { path: ['port'], variable: 'FLIPT_PORT' },
        ],
      },
    );
    expect(redact('must be a URL; got "ht tp://env-value"', ['address'])).toBe(
      'must be a URL; got the value of ${env:ADDRESS} (17 characters)',
    );
    expect(redact('stat /run/key.pem: no such file or directory', ['path'])).toBe(
      'stat the value of FLIPT_PATH (12 characters): no such file or directory',
    );
    expect(redact('must be a positive duration; got -1h30m0s', ['lifetime'])).toBe(
      'must be a positive duration; got the value of FLIPT_LIFETIME (4 characters)',
    );
    expect(redact('must be <= 65535; got 99999', ['port'])).toBe(
      'must be <= 65535; got the value of FLIPT_PORT (5 characters)',
    );
    // A message about another setting is left alone: a value such as "json" is too likely a word of it.
    expect(redact('stat /run/key.pem: no such file or directory', ['address'])).toBe(
      'stat /run/key.pem: no such file or directory',
    );
  });
});
