import { describe, expect, it } from 'vitest';
import { errorCode } from '../errors.ts';
import { selectSecretKey } from './select-key.ts';

const rejects = (value: string, key: string) => {
  try {
    selectSecretKey(value, 'p', key);
  } catch (error) {
    return errorCode(error);
  }
  return 'resolved';
};

describe('selectSecretKey', () => {
  it('returns a number as written, digits beyond a double kept', () => {
    const value = '{"n": 12345678901234567890, "f": 1.50, "e": 1e3, "neg": -0, "s": "x", "b": true}';
    expect(selectSecretKey(value, 'p', 'n')).toBe('12345678901234567890');
    expect(selectSecretKey(value, 'p', 'f')).toBe('1.50');
    expect(selectSecretKey(value, 'p', 'e')).toBe('1e3');
    expect(selectSecretKey(value, 'p', 'neg')).toBe('-0');
    expect(selectSecretKey(value, 'p', 's')).toBe('x');
    expect(selectSecretKey(value, 'p', 'b')).toBe('true');
  });

  it('a value that is a number, a list or text is no object to select from', () => {
    expect(rejects('5', 'text')).toBe('ERR_SECRET_NOT_FOUND');
    expect(rejects('[1]', '0')).toBe('ERR_SECRET_NOT_FOUND');
    expect(rejects('plain', 'k')).toBe('ERR_SECRET_NOT_FOUND');
    expect(rejects('{"o": {"x": 1}}', 'o')).toBe('ERR_SECRET_NOT_FOUND');
    expect(rejects('{"a": 1}', 'constructor')).toBe('ERR_SECRET_NOT_FOUND');
  });
});
