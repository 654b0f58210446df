import { describe, expect, it } from 'vitest';
import { parseGoBool } from './go-bool.ts';

describe('parseGoBool (Go strconv.ParseBool)', () => {
  it('reads the twelve spellings Go reads, and nothing else', () => {
    for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool(text)).toBe(true);
    for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseGoBool(text)).toBe(false);
    for (const text of ['', 'yes', 'tRUE', ' true', 'constructor', 'toString'])
      expect(parseGoBool(text)).toBeUndefined();
  });
});
