/** Issue 20: `Cookie` header parsing against arbitrary header bytes (see core/test-support/fuzz.ts). */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz, fuzzTimeout, headerValue } from '../test-support/fuzz.ts';
import { cookiePairs, readCookie, TOKEN_COOKIE } from './cookies.ts';

const names = fc.constantFrom(TOKEN_COOKIE, 'flipt_client_state', 'a', '', ' ', 'flipt_client_token ');
const pair = fc.oneof(
  headerValue(24),
  fc.tuple(names, headerValue(24)).map(([name, value]) => `${name}=${value}`),
  fc.tuple(names, headerValue(24)).map(([name, value]) => `${name}="${value}"`),
);
const headers = fc
  .array(pair, { maxLength: 6 })
  .chain((pairs) => fc.constantFrom('; ', ';', ' ;\t').map((separator) => pairs.join(separator)));

it(
  'Cookie parsing: any header gives undefined or a value of one of its pairs, never with a separator',
  async () => {
    await fuzz(
      'Cookie header parsing',
      headers,
      (header) => {
        const value = readCookie(header, TOKEN_COOKIE);
        if (value === undefined) return;
        expect(value).not.toMatch(/[;"\\,]/);
        expect([...value].every((c) => c >= ' ' && c !== '\x7f')).toBe(true);
        expect(value).not.toMatch(/^ | $/);
        const values = cookiePairs(header).map((p) => p.slice(TOKEN_COOKIE.length + 1));
        expect(values.some((v) => v === value || v === `"${value}"`)).toBe(true);
      },
      5000,
    );
  },
  fuzzTimeout(20_000),
);
