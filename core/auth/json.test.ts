import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authenticationJson, formatTimestamp, goJson, parseTimestamp } from './json.ts';

describe('authentication JSON', () => {
  it('writes protojson: camelCase, Flipt field order, unset timestamps omitted, metadata keys sorted', () => {
    const json = authenticationJson({
      id: 'bootstrap',
      method: 'METHOD_TOKEN',
      createdAt: new Date('2026-08-22T10:00:00.123Z'),
      updatedAt: new Date('2026-08-22T10:00:00Z'),
      metadata: { role: 'admin', environment: 'prod' },
    });
    expect(JSON.stringify(json)).toBe(
      '{"id":"bootstrap","method":"METHOD_TOKEN","createdAt":"2026-08-22T10:00:00.123Z","updatedAt":"2026-08-22T10:00:00Z","metadata":{"environment":"prod","role":"admin"}}',
    );
    expect(JSON.stringify(authenticationJson({ id: '', method: 'METHOD_JWT', metadata: {} }))).toBe(
      '{"id":"","method":"METHOD_JWT","metadata":{}}',
    );
  });

  it('formats RFC 3339 in UTC without a zero fraction', () => {
    expect(formatTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toBe('2026-01-02T03:04:05Z');
    expect(formatTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 60)))).toBe('2026-01-02T03:04:05.060Z');
  });

  it('reads RFC 3339 timestamps only', () => {
    expect(parseTimestamp('2026-01-02T03:04:05Z')).toEqual(new Date('2026-01-02T03:04:05Z'));
    expect(parseTimestamp('2026-01-02T05:04:05.5+02:00')).toEqual(new Date('2026-01-02T03:04:05.500Z'));
    for (const text of [
      '2026-01-02',
      'tomorrow',
      '2026-01-02 03:04:05Z',
      '2026-13-02T03:04:05Z',
      '1700000000',
    ]) {
      expect(parseTimestamp(text)).toBeUndefined();
    }
  });

  it('writes claims as Go does, keeping keys an object inherits (__proto__, constructor) as ordinary keys', () => {
    const claims = JSON.parse(
      '{"sub":"a","__proto__":{"role":"admin","constructor":{"x":1}},"constructor":"c","prototype":[{"__proto__":1}]}',
    ) as unknown;
    expect(goJson(claims)).toBe(
      '{"__proto__":{"constructor":{"x":1},"role":"admin"},"constructor":"c","prototype":[{"__proto__":1}],"sub":"a"}',
    );
    expect(({} as Record<string, unknown>).role).toBeUndefined();
  });

  it('writes any JSON with its keys in Go’s order at every level, whatever JavaScript’s own order of keys', () => {
    // Go sorts map keys by their UTF-8 bytes; JavaScript puts integer-like keys first, in numeric order.
    expect(goJson(JSON.parse('{"b":1,"10":2,"9":3,"":4,"a":{"2":0,"1":0}}'))).toBe(
      '{"":4,"10":2,"9":3,"a":{"1":0,"2":0},"b":1}',
    );
    // U+FFFD is EF BF BD in UTF-8, before F0 for U+1F600; UTF-16 would put U+1F600 (D83D DE00) first.
    expect(goJson({ '\u{1F600}': 1, '\uFFFD': 2 })).toBe('{"\uFFFD":2,"\u{1F600}":1}');
    const goOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    // A second spelling of the rule: each object's entries sorted by their keys' bytes, values written alike.
    const reference = (value: unknown): string =>
      Array.isArray(value)
        ? `[${value.map(reference).join(',')}]`
        : typeof value === 'object' && value !== null
          ? `{${Object.keys(value)
              .sort(goOrder)
              .map((key) => `${JSON.stringify(key)}:${reference((value as Record<string, unknown>)[key])}`)
              .join(',')}}`
          : (JSON.stringify(value) as string);
    const escaped = (text: string) =>
      text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        // Through JSON.parse, as claims come: `__proto__` keys are own keys (-0 and lone surrogates: json-go.test.ts).
        const parsed = JSON.parse(JSON.stringify(value)) as unknown;
        expect(goJson(parsed)).toBe(escaped(reference(parsed)));
        expect(JSON.parse(goJson(parsed))).toEqual(parsed);
      }),
      { numRuns: 500, seed: 21 },
    );
    // Beyond ASCII (well-formed text, astral characters among it), where strings are not written between quotes as they are.
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'grapheme' }), (value) => {
        const parsed = JSON.parse(JSON.stringify(value)) as unknown;
        expect(goJson(parsed)).toBe(escaped(reference(parsed)));
      }),
      { numRuns: 500, seed: 21 },
    );
    // Not what JSON.parse makes: written by JSON.stringify's rules (undefined left out of objects, null in lists).
    expect(goJson({ gone: undefined, list: [undefined], b: 1 })).toBe('{"b":1,"list":[null]}');
  });
});
