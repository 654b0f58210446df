import { describe, expect, it } from 'vitest';
import { duplicateName, parseJsonBody } from './json-body.ts';

describe('JSON request bodies', () => {
  it('finds the first name given twice in one object, compared decoded, with the path of that object', () => {
    const cases: Array<[string, { path: string; name: string } | undefined]> = [
      ['{"a":1,"b":2}', undefined],
      ['{"a":1,"a":2}', { path: '', name: 'a' }],
      ['{"a":1,"\\u0061":2}', { path: '', name: 'a' }],
      ['{"__proto__":1,"__proto__":2}', { path: '', name: '__proto__' }],
      ['{"m":{"k":"v","k":"w"}}', { path: 'm', name: 'k' }],
      ['{"m":{"n":{"k":1,"j":2,"k":3}}}', { path: 'm.n', name: 'k' }],
      ['{"x":[{"k":1},{"k":1,"k":2}]}', { path: 'x[1]', name: 'k' }],
      ['[[],[{"k":1,"k":1}]]', { path: '[1][0]', name: 'k' }],
      // Names inside strings, the same name at other levels, and a name used as a value are no duplicates.
      ['{"a":"{\\"a\\":1,\\"a\\":2}","b":{"a":1},"c":"a","d":["a","a"]}', undefined],
      ['{"a":{"b":1},"b":{"a":1}}', undefined],
      ['{ "a" : 1 , "b" : { "a" : 2 } , "c" : [ 1 , { "a" : 3 } ] }', undefined],
      ['"a"', undefined],
    ];
    for (const [json, found] of cases) {
      JSON.parse(json);
      expect(duplicateName(json), json).toEqual(found);
    }
  });

  it('parses a body, refusing text that is not JSON and names given twice, in Flipt’s error shape', () => {
    expect(parseJsonBody('')).toBeUndefined();
    expect(parseJsonBody('  \n')).toBeUndefined();
    const own = parseJsonBody('{"__proto__":{"x":1}}') as object;
    expect(Object.hasOwn(own, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(own)).toBe(Object.prototype);
    expect(() => parseJsonBody('{"name":')).toThrow('invalid values for key(s) in json body');
    expect(() => parseJsonBody('{"metadata":{"role":"a","role":"b"}}')).toThrow(
      'invalid values for key(s) in json body: "role" is given twice in metadata',
    );
    expect(() => parseJsonBody('{"name":"a","name":"b"}')).toThrow(
      'invalid values for key(s) in json body: "name" is given twice in the request body',
    );
  });
});
