import { describe, expect, it } from 'vitest';
import { type CoercionContext, coerceToSchema, convertDurations } from './coerce.ts';
import { rootCursor } from './schema-walk.ts';

const schema = rootCursor({
  type: 'object',
  properties: {
    flag: { type: 'boolean' },
    port: { type: 'integer' },
    ratio: { type: 'number' },
    name: { type: 'string' },
    list: { type: 'array', items: { type: 'string' } },
    wait: { type: ['string', 'integer'], format: 'go-duration' },
    nested: { type: 'object', properties: { inner: { type: 'boolean' } } },
    map: { type: 'object', additionalProperties: { type: 'string' } },
  },
});

const coerce = (value: unknown, sources: Record<string, string> = {}) =>
  coerceToSchema(value, schema, { scalarSource: (path) => sources[path.join('.')] });

describe('coerceToSchema', () => {
  it("reads Go's ParseBool forms in boolean fields and leaves others for the validator", () => {
    for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True'])
      expect(coerce({ flag: text })).toEqual({ flag: true });
    for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False']) {
      expect(coerce({ flag: text })).toEqual({ flag: false });
    }
    expect(coerce({ flag: 'yes' })).toEqual({ flag: 'yes' });
  });

  it('keeps a key named __proto__ as a key, never as the prototype of the mapping', () => {
    const map = JSON.parse('{"__proto__": "x", "other": "y"}') as Record<string, unknown>;
    const typed = coerce({ map }) as { map: Record<string, unknown> };
    expect(Object.keys(typed.map)).toEqual(['__proto__', 'other']);
    expect(Object.getPrototypeOf(typed.map)).toBe(Object.prototype);
  });

  it('reads integers and numbers from strings', () => {
    expect(coerce({ port: '8080', ratio: '0.5' })).toEqual({ port: 8080, ratio: 0.5 });
    expect(coerce({ port: '80.5' })).toEqual({ port: '80.5' });
    expect(coerce({ port: 'eighty' })).toEqual({ port: 'eighty' });
  });

  it('splits a string on whitespace where a list is wanted, as Flipt does', () => {
    expect(coerce({ list: 'email  profile\tgroups' })).toEqual({ list: ['email', 'profile', 'groups'] });
    expect(coerce({ list: '' })).toEqual({ list: [] });
    const notes: NonNullable<CoercionContext['notes']> = [];
    expect(coerceToSchema({ list: 'a, b' }, schema, { scalarSource: () => undefined, notes })).toEqual({
      list: ['a,', 'b'],
    });
    expect(notes).toEqual([
      {
        path: ['list'],
        message:
          'a list written as a string is split on whitespace only, as in Flipt, so "a," keeps its comma; write a YAML list',
      },
    ]);
    expect(coerce({ list: 'a,b' })).toEqual({ list: ['a,b'] });
  });

  it('keeps the text as written where a string is wanted', () => {
    expect(coerce({ name: 2 }, { name: '2.0' })).toEqual({ name: '2.0' });
    expect(coerce({ name: 123 })).toEqual({ name: '123' });
    expect(coerce({ name: true }, { name: 'True' })).toEqual({ name: 'True' });
  });

  it('drops empty (null) values so that defaults apply, in maps and nested objects too', () => {
    expect(coerce({ flag: null, nested: { inner: null }, map: { a: null, b: 'x' } })).toEqual({
      nested: {},
      map: { b: 'x' },
    });
  });

  it('leaves keys the schema does not know for the validator to report', () => {
    expect(coerce({ unknown: 'true' })).toEqual({ unknown: 'true' });
  });
});

describe('convertDurations', () => {
  it('turns valid durations into milliseconds and leaves invalid ones as written', () => {
    expect(convertDurations({ wait: '1m30s' }, schema)).toEqual({ wait: 90_000 });
    expect(convertDurations({ wait: 2_000_000 }, schema)).toEqual({ wait: 2 });
    expect(convertDurations({ wait: '1d' }, schema)).toEqual({ wait: '1d' });
  });
});
