import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VALUE_LIMIT } from './describe-value.ts';
import { statFailure } from './flipt-messages.ts';

function failure(path: string): string {
  try {
    statSync(path);
  } catch (error) {
    return statFailure(path, error);
  }
  throw new Error(`${path} exists`);
}

describe('statFailure', () => {
  it('says why in Go’s words, the path escaped and cut as every value in a message is', () => {
    expect(failure('/does/not/exist.pem')).toBe('stat /does/not/exist.pem: no such file or directory');
    expect(failure('/does/not\n/exist.pem')).toBe('stat /does/not\\n/exist.pem: no such file or directory');
    const long = `/${'d'.repeat(5000)}`;
    expect(failure(long)).toBe(`stat /${'d'.repeat(VALUE_LIMIT - 1)}… (5001 characters): file name too long`);
    // Node refuses a NUL byte itself, in words that repeat the path; Go's stat says "invalid argument".
    expect(failure('/does/not\u0000/exist.pem')).toBe('stat /does/not\\u0000/exist.pem: invalid argument');
  });

  it('keeps Node’s own reason for a failure Go’s words are not known for, the path in it cut too', () => {
    const long = `/${'e'.repeat(200)}`;
    const error = Object.assign(new Error(`EIO: i/o error, stat '${long}'`), { code: 'EIO' });
    expect(statFailure(long, error)).toBe(
      `stat /${'e'.repeat(VALUE_LIMIT - 1)}… (201 characters): EIO: i/o error, stat '/${'e'.repeat(VALUE_LIMIT - 1)}… (201 characters)'`,
    );
  });
});
