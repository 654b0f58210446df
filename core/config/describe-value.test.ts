import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../errors.ts';
import { createRuntime } from '../runtime.ts';
import { tempFiles } from '../test-support/tmp.ts';
import { CredentialMap } from './credentials.ts';
import {
  describeValue,
  escapeControls,
  mentioning,
  quoteValue,
  VALUE_LIMIT,
  valueText,
} from './describe-value.ts';
import { loadConfig } from './load.ts';
import { createValidator } from './validate.ts';

describe('describeValue', () => {
  it('writes strings, numbers, booleans and null as JSON, and lists and mappings by kind and size', () => {
    expect(describeValue('sentinel')).toBe('"sentinel"');
    expect(describeValue('say "hi" \\ there')).toBe('"say \\"hi\\" \\\\ there"');
    expect(describeValue(42)).toBe('42');
    expect(describeValue(-1.5)).toBe('-1.5');
    expect(describeValue(true)).toBe('true');
    expect(describeValue(null)).toBe('null');
    expect(describeValue([])).toBe('an empty list');
    expect(describeValue(['a'])).toBe('a list of 1 item');
    expect(describeValue(['a', 'b'])).toBe('a list of 2 items');
    expect(describeValue({})).toBe('an empty mapping');
    expect(describeValue({ a: 1 })).toBe('a mapping with 1 key');
    expect(describeValue({ a: 1, b: 2 })).toBe('a mapping with 2 keys');
  });

  it(`cuts a string longer than ${VALUE_LIMIT} characters, never inside a character, and gives its length`, () => {
    const exact = 'x'.repeat(VALUE_LIMIT);
    expect(describeValue(exact)).toBe(`"${exact}"`);
    expect(describeValue(`${exact}yz`)).toBe(`"${exact}…" (${VALUE_LIMIT + 2} characters)`);
    const emoji = '🔑'.repeat(VALUE_LIMIT + 1);
    expect(describeValue(emoji)).toBe(`"${'🔑'.repeat(VALUE_LIMIT)}…" (${VALUE_LIMIT + 1} characters)`);
  });

  it('escapes every character that would break or reorder the line', () => {
    const nasty = 'a\nb\r\tc\u0000\u0007\u007f\u0085\u2028\u2029\u202e\u2066\ufeff\ud800z';
    const shown = describeValue(nasty);
    expect(shown).toBe(
      '"a\\nb\\r\\tc\\u0000\\u0007\\u007f\\u0085\\u2028\\u2029\\u202e\\u2066\\ufeff\\ud800z"',
    );
    expect(shown).toMatch(/^[\x20-\x7e]+$/);
    // For ordinary text the quoting is JSON's.
    expect(quoteValue('tab\there "q"')).toBe(JSON.stringify('tab\there "q"'));
    expect(escapeControls('héllo wörld')).toBe('héllo wörld');
  });

  it('never repeats a credential: only what kind of value it is, and a string’s length', () => {
    expect(describeValue('s3cr3t-value', { credential: true })).toBe('a value of 12 characters');
    expect(describeValue('x', { credential: true })).toBe('a value of 1 character');
    expect(describeValue('', { credential: true })).toBe('an empty value');
    expect(describeValue(123456, { credential: true })).toBe('a number');
    expect(describeValue(false, { credential: true })).toBe('a boolean');
    expect(describeValue(['s3cr3t'], { credential: true })).toBe('a list of 1 item');
    expect(valueText('s3cr3t-value', { credential: true })).toBe('a value of 12 characters');
  });
});

describe('valueText', () => {
  it('shows a string unquoted (as Flipt’s own messages do), escaped and cut', () => {
    expect(valueText('1.0')).toBe('1.0');
    expect(valueText('1.0\n2.0')).toBe('1.0\\n2.0');
    // Cut as a quoted value is: with its length, as the README says.
    expect(valueText('9'.repeat(VALUE_LIMIT + 5))).toBe(
      `${'9'.repeat(VALUE_LIMIT)}… (${VALUE_LIMIT + 5} characters)`,
    );
    expect(valueText(['a'])).toBe('a list of 1 item');
  });
});

describe('mentioning', () => {
  it('cuts and escapes a value wherever another text (an error of Node’s) repeats it', () => {
    const path = `/etc/${'d'.repeat(VALUE_LIMIT)}\n.pem`;
    expect(mentioning(`ENAMETOOLONG: name too long, stat '${path}'`, path)).toBe(
      `ENAMETOOLONG: name too long, stat '/etc/${'d'.repeat(VALUE_LIMIT - 5)}… (${path.length} characters)'`,
    );
    expect(mentioning('no mention', path)).toBe('no mention');
  });
});

describe('CredentialMap', () => {
  const at = (schema: Record<string, unknown>, path: Array<string | number> = []) =>
    new CredentialMap(schema).isCredentialPlace(path);

  it('is true for a writeOnly setting, and for a block that holds one at any depth', () => {
    expect(at({ type: 'string', writeOnly: true })).toBe(true);
    expect(at({ type: 'object', properties: { credential: { writeOnly: true } } })).toBe(true);
    expect(at({ type: 'string' })).toBe(false);
    expect(at({ type: 'object', properties: { name: { type: 'string' } } })).toBe(false);
    // tokens: {<name>: {credential}}, through a map's additionalProperties, and a list's items.
    const tokens = {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { credential: { type: 'string', writeOnly: true } },
      },
    };
    expect(at({ type: 'object', properties: { storage: { type: 'object', properties: { tokens } } } })).toBe(
      true,
    );
    expect(at({ type: 'array', items: tokens })).toBe(true);
  });

  it('sees through $ref and every combinator, for the place and for what it holds', () => {
    const secret = { type: 'string', writeOnly: true };
    const root = (magic: unknown) => ({
      type: 'object',
      definitions: { secret },
      properties: { magic },
    });
    const branches = [
      { $ref: '#/definitions/secret' },
      { anyOf: [{ type: 'integer' }, secret] },
      { oneOf: [{ type: 'integer' }, { $ref: '#/definitions/secret' }] },
      { allOf: [{ type: 'string' }, { writeOnly: true }] },
      // if/then/else, built so that no object literal has a `then` (which would make it look like a promise).
      Object.fromEntries([
        ['if', { type: 'string' }],
        ['then', secret],
        ['else', { type: 'integer' }],
      ]),
      { writeOnly: true, anyOf: [{ type: 'integer' }, { type: 'boolean' }] },
    ];
    for (const magic of branches) expect(at(root(magic), ['magic'])).toBe(true);
    // A block whose member is a credential only in one branch holds one.
    const block = { type: 'object', anyOf: [{ properties: { key: secret } }, { properties: { id: {} } }] };
    expect(at(root(block), ['magic'])).toBe(true);
    expect(at(root({ anyOf: [{ type: 'integer' }, { type: 'string' }] }), ['magic'])).toBe(false);
  });

  it('finds every credential written, but no ${secret:...} reference', () => {
    const map = new CredentialMap({
      type: 'object',
      properties: {
        password: { type: 'string', writeOnly: true },
        other: { type: 'string', writeOnly: true },
        name: { type: 'string' },
        tokens: {
          type: 'object',
          additionalProperties: { type: 'object', properties: { credential: { writeOnly: true } } },
        },
      },
    });
    expect(
      map.values({
        password: 'hunter2',
        other: '${secret:file:x}',
        name: 'public',
        tokens: { a: { credential: 'tok-a' }, b: 'written-too-high', c: { credential: ['in', 'a list'] } },
      }),
    ).toEqual([
      { path: ['password'], value: 'hunter2' },
      { path: ['tokens', 'a', 'credential'], value: 'tok-a' },
      { path: ['tokens', 'b'], value: 'written-too-high' },
      { path: ['tokens', 'c', 'credential', 0], value: 'in' },
      { path: ['tokens', 'c', 'credential', 1], value: 'a list' },
    ]);
  });
});

describe('schema messages', () => {
  it('name the refused value for every keyword that refuses one, and never a credential', async () => {
    const validate = await createValidator({
      type: 'object',
      properties: {
        kind: { const: 'static' },
        name: { type: 'string', maxLength: 3 },
        tags: { type: 'array', maxItems: 1, uniqueItems: true },
        hosts: { type: 'array', uniqueItems: true },
        ratio: { type: 'number', exclusiveMaximum: 1 },
        pin: { type: 'string', pattern: '^[0-9]+$', writeOnly: true },
        code: {
          type: 'string',
          pattern: '^[a-z]+$',
          'x-messages': { pattern: 'must be lower-case letters' },
        },
        shown: { type: 'string', enum: ['a'], 'x-messages': { enum: 'unsupported: {value}' } },
      },
    });
    const messages = validate({
      kind: 'dynamic',
      name: 'abcd',
      tags: ['x', 'y'],
      hosts: ['h', 'i', 'h'],
      ratio: 1,
      pin: 'not-a-pin-but-a-secret',
      code: 'ABC',
      shown: 'line\nbreak',
    }).map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    expect(messages).toEqual([
      'kind: must be static; got "dynamic"',
      'name: must be at most 3 characters long; got "abcd"',
      'tags: must have at most 1 item; got a list of 2 items',
      'hosts: must not list the same item twice; got "h" as items 0 and 2',
      'ratio: must be < 1; got 1',
      'pin: must match the pattern ^[0-9]+$; got a value of 22 characters',
      'code: must be lower-case letters; got "ABC"',
      'shown: unsupported: line\\nbreak',
    ]);
  });
});

describe('configuration messages and secrets', () => {
  const SECRET = 'resolved-secret-value-7f3a';
  const LITERAL = 'literal-credential-value-9c1d';

  /** Everything an operator could read about a failure: the message, each problem, and the stack. */
  function allText(error: unknown): string {
    const issues = error instanceof ConfigError ? error.issues.map(formatIssue) : [];
    return [String(error), (error as Error).stack ?? '', ...issues].join('\n');
  }

  it('name a reference, never the value it resolves to, nor a credential written in the file', async () => {
    const dir = tempFiles({ port: SECRET, mode: SECRET });
    const error = await loadConfig({
      object: {
        secrets: { providers: { file: { enabled: true, base_path: dir } } },
        server: { http_port: '${secret:file:port}' },
        authentication: {
          session: { storage: { redis: { mode: '${secret:file:mode}', password: [LITERAL] } } },
          methods: { token: { storage: { tokens: { ci: LITERAL } } } },
        },
      },
      env: {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map(formatIssue)).toEqual([
      'authentication.session.storage.redis.mode: ${secret:...} references are resolved only in text settings, and this one must be one of: single, cluster; got "${secret:file:mode}"',
      'authentication.session.storage.redis.password: must be a string; got a list of 1 item',
      `authentication.methods.token.storage.tokens.ci: must be a mapping; got a value of ${LITERAL.length} characters`,
      'server.http_port: ${secret:...} references are resolved only in text settings, and this one must be an integer; got "${secret:file:port}"',
    ]);
    const text = allText(error);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(LITERAL);
  });

  it('hold no resolved value when a check after resolution refuses one', async () => {
    const dir = tempFiles({ a: SECRET, b: SECRET });
    const lines: string[] = [];
    const error = await createRuntime({
      object: {
        secrets: { providers: { file: { enabled: true, base_path: dir } } },
        authentication: {
          methods: {
            token: {
              enabled: true,
              storage: {
                tokens: {
                  first: { credential: '${secret:file:a}' },
                  second: { credential: '${secret:file:b}' },
                },
              },
            },
          },
        },
      },
      env: {},
      logDestination: { write: (line: string) => lines.push(line) },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toHaveLength(1);
    expect(`${allText(error)}\n${lines.join('\n')}`).not.toContain(SECRET);
  });
});
