import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETURN_TO, MAX_RETURN_TO, safeReturnTo } from './return-to.ts';

const ORIGIN = 'https://app.example';

/** Where a browser on `ORIGIN` lands when sent `Location: <value>` (WHATWG URL, as browsers resolve it). */
const landing = (value: string) => new URL(value, `${ORIGIN}/auth/v1/method/oidc/dex/callback`);

/** Every form a browser (or a proxy decoding once more on the way) could read as another origin. */
const attacks = [
  'https://evil.example',
  'https://evil.example/app',
  'http:evil.example',
  'HTTPS://evil.example',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  '//evil.example',
  '//evil.example/app/page?x=1',
  '///evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '\\/evil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  '/\r/evil.example',
  ' //evil.example',
  '\u0000//evil.example',
  '/ /evil.example',
  '/..//evil.example',
  '/./\\evil.example',
  'evil.example',
  '.evil.example',
  '@evil.example',
  '%2F%2Fevil.example',
  '%2f%2fevil.example',
  '/%2Fevil.example',
  '/%5Cevil.example',
  '/%5cevil.example',
  '%5C%5Cevil.example',
  '/%09/evil.example',
  '/%0A/evil.example',
  '/%0d/evil.example',
  '/%252Fevil.example',
  '/%25252Fevil.example',
  '/%255Cevil.example',
  'https%3A%2F%2Fevil.example',
  '%68ttps://evil.example',
  '/%',
  '/%zz',
  `/${'a'.repeat(MAX_RETURN_TO)}`,
];

describe('safeReturnTo', () => {
  it.each(attacks)('refuses %j: the default instead', (value) => {
    expect(safeReturnTo(value)).toBe(DEFAULT_RETURN_TO);
  });

  it.each([
    ['/app/page?x=1', '/app/page?x=1'],
    ['/', '/'],
    ['/auth/ui/tokens', '/auth/ui/tokens'],
    ['/app/page?next=https://evil.example', '/app/page?next=https://evil.example'],
    ['/app/a%2Fb', '/app/a%2Fb'],
    ['/app/%C3%A9t%C3%A9', '/app/%C3%A9t%C3%A9'],
    ['/app/été', '/app/%C3%A9t%C3%A9'],
    ['/app/./x/../page#section', '/app/page#section'],
    ['/app/page?q=a%20b', '/app/page?q=a%20b'],
    // A space inside a path stays a path segment on this origin; only tabs and newlines are dropped by browsers.
    ['/%20/evil.example', '/%20/evil.example'],
    ['/app%5Cx', '/app%5Cx'],
  ])('keeps the path %j on this origin', (value, expected) => {
    expect(safeReturnTo(value)).toBe(expected);
    expect(landing(safeReturnTo(value)).origin).toBe(ORIGIN);
  });

  it('gives the default for nothing at all', () => {
    expect(safeReturnTo(undefined)).toBe(DEFAULT_RETURN_TO);
    expect(safeReturnTo('')).toBe(DEFAULT_RETURN_TO);
  });

  // Whatever comes in, what comes out keeps a browser on this origin, even decoded once more; and is either the
  // default or a path that passes again unchanged.
  const pieces = fc.constantFrom(
    '/',
    '\\',
    '%2F',
    '%2f',
    '%5C',
    '%25',
    '%09',
    '%0A',
    '\t',
    '\n',
    ' ',
    '.',
    '..',
    ':',
    '@',
    '?',
    '#',
    'https:',
    'evil.example',
    'app',
    '%',
  );
  const values = fc.oneof(
    fc.string(),
    fc.array(pieces, { maxLength: 12 }).map((parts) => parts.join('')),
  );

  it('never sends a browser to another origin (property, 20,000 inputs)', () => {
    fc.assert(
      fc.property(values, (value) => {
        const out = safeReturnTo(value);
        expect(out.startsWith('/')).toBe(true);
        expect(landing(out).origin).toBe(ORIGIN);
        let decoded = out;
        try {
          decoded = decodeURIComponent(out);
        } catch {}
        expect(landing(decoded.replace(/[\t\n\r]/g, '')).origin).toBe(ORIGIN);
        expect(safeReturnTo(out)).toBe(out);
      }),
      { numRuns: 20_000, seed: 17 },
    );
  });
});
