/**
 * Files whose shape is not what a configuration's is (issue 14, item 8): each is refused with located problems
 * (or read as Flipt reads it), never a crash, a bare library message or a Node warning.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../errors.ts';
import { tempDir } from '../test-support/tmp.ts';
import { loadConfig } from './load.ts';
import type { RootConfig } from './types.ts';

/** What loading `content` as config.yaml gives: `valid`, or one line per problem. */
async function outcome(content: string | Uint8Array, env: Record<string, string> = {}): Promise<string[]> {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(file, content);
  try {
    await loadConfig({ file, env });
    return ['valid'];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(
      error.issues.filter((issue) => issue.source === undefined),
      'every problem is located',
    ).toEqual([]);
    return error.issues.map(formatIssue);
  }
}

/** The configuration `content` loads to (it must be valid). */
async function loaded(content: string): Promise<RootConfig> {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(file, content);
  return (await loadConfig({ file, env: {} })).config;
}

/** The static tokens of a loaded configuration. */
function tokensOf(config: RootConfig): Record<string, unknown> {
  const storage = config.authentication.methods.token?.storage as
    | { tokens?: Record<string, unknown> }
    | undefined;
  return storage?.tokens ?? {};
}

/** How deep mappings and lists may nest (tree.ts's MAX_NESTING, written out so this test also runs on older code). */
const MAX_NESTING = 64;

const TOKENS =
  'authentication:\n  methods:\n    token:\n      enabled: true\n      storage:\n        tokens:\n';

/** Node warnings raised while a test runs (the YAML library warns through process.emitWarning). */
let warnings: string[] = [];
const onWarning = (warning: Error) => warnings.push(warning.message);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
  expect(warnings, 'no Node warning').toEqual([]);
});

describe('keys', () => {
  it('refuses a list or a mapping as a key, located, and creates no token named after it', async () => {
    expect(await outcome('? [a, b]\n: c\n')).toEqual([
      '(root) (1:3): a key must be text; got a list of 2 items',
    ]);
    expect(await outcome('[a]: 1\n')).toEqual(['(root) (1:1): a key must be text; got a list of 1 item']);
    expect(await outcome(`${TOKENS}          ? [x]\n          : credential: abc\n`)).toEqual([
      'authentication.methods.token.storage.tokens (7:13): a key must be text; got a list of 1 item',
    ]);
    expect(await outcome(`${TOKENS}          {a: 1}:\n            credential: abc\n`)).toEqual([
      'authentication.methods.token.storage.tokens (7:11): a key must be text; got a mapping with 1 key',
    ]);
  });

  it('refuses an alias to a list as a key', async () => {
    expect(await outcome('storage: &k [a]\n*k : 1\n')).toEqual([
      '(root) (2:1): a key must be text; got a list of 1 item',
    ]);
  });

  it('refuses null and empty keys', async () => {
    expect(await outcome('~: 1\n')).toEqual(['(root) (1:1): a key must be text; got null']);
    expect(await outcome('authentication:\n  null: true\n')).toEqual([
      'authentication (2:3): a key must be text; got null',
    ]);
    expect(await outcome(': 1\n')).toEqual(['(root) (1:1): a key must be text; got nothing']);
  });

  it('reads a number or a boolean as a key as the text written, as Flipt does', async () => {
    const config = await loaded(
      `${TOKENS}          0x10: {credential: aaa}\n          1.0: {credential: bbb}\n          true: {credential: ccc}\n`,
    );
    expect(Object.keys(tokensOf(config))).toEqual(['0x10', '1.0', 'true']);
  });

  it('takes inherited names (constructor, toString, hasOwnProperty, valueOf) as ordinary keys', async () => {
    expect(await outcome('toString: 1\n')).toEqual([
      expect.stringMatching(/^toString \(1:1\): unknown top-level section "toString"; expected one of: /),
    ]);
    expect(await outcome('authentication:\n  hasOwnProperty: 1\n  constructor: {}\n')).toEqual([
      'authentication.hasOwnProperty (2:3): unknown key "hasOwnProperty"; expected one of: required, exclude, session, methods',
      'authentication.constructor (3:3): unknown key "constructor"; expected one of: required, exclude, session, methods',
    ]);
    const names = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
    const config = await loaded(
      `${TOKENS}${names.map((name, i) => `          ${name}:\n            credential: c${i}-credential\n            metadata: {${name}: x}\n`).join('')}`,
    );
    const tokens = tokensOf(config);
    expect(Object.keys(tokens)).toEqual(names);
    expect(tokens.valueOf).toEqual({ credential: 'c3-credential', metadata: { valueOf: 'x' } });
  });
});

describe('nesting', () => {
  const blockNesting = (levels: number) =>
    `${Array.from({ length: levels }, (_, i) => `${'  '.repeat(i)}k${i}:\n`).join('')}${'  '.repeat(levels)}x: 1\n`;

  it('refuses 2,000 nested mappings with one located problem', async () => {
    const [line, ...rest] = await outcome(blockNesting(2000));
    expect(rest).toEqual([]);
    const path = Array.from({ length: MAX_NESTING }, (_, i) => `k${i}`).join('.');
    expect(line).toBe(
      `${path} (65:129): is nested too deeply: at most 64 levels of mappings and lists are read`,
    );
  });

  it('refuses deep flow mappings, lists and JSON the same way, however deep', async () => {
    for (const text of [
      `storage: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n`,
      `storage: ${'['.repeat(20_000)}1${']'.repeat(20_000)}\n`,
      `${'- '.repeat(5000)}1\n`,
      `{"storage": ${'{"a": '.repeat(3000)}1${'}'.repeat(3000)}}`,
    ]) {
      const lines = await outcome(text);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/: is nested too deeply: at most 64 levels of mappings and lists are read$/);
    }
  });

  it('reads 64 levels, and refuses 65', async () => {
    const nested = (levels: number) => `storage: ${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}\n`;
    expect(await outcome(nested(MAX_NESTING))).toEqual(['valid']);
    expect(await outcome(nested(MAX_NESTING + 1))).toEqual([
      `storage${'[0]'.repeat(MAX_NESTING - 1)} (1:73): is nested too deeply: at most 64 levels of mappings and lists are read`,
    ]);
  });

  it('refuses nesting that aliases build, at the alias', async () => {
    const levels = Array.from({ length: 10 }, (_, i) =>
      i === 0
        ? `l0: &l0 ${'['.repeat(20)}1${']'.repeat(20)}`
        : `l${i}: &l${i} ${'['.repeat(19)}*l${i - 1}${']'.repeat(19)}`,
    );
    const lines = await outcome(`storage:\n${levels.map((line) => `  ${line}\n`).join('')}`);
    // l3 would be 4 × 20 levels deep; the levels after it start again from the null it was left as.
    expect(lines[0]).toBe(
      `storage.l3${'[0]'.repeat(19)} (5:30): is nested too deeply: at most 64 levels of mappings and lists are read (through the alias *l2)`,
    );
    expect(lines.every((line) => line.includes('(through the alias *l'))).toBe(true);
  });
});

describe('aliases and merge keys', () => {
  it('refuses an alias bomb (billion laughs), located at the alias that crosses the limit', async () => {
    const bomb = ['storage:', '  a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) {
      const [prev, next] = [String.fromCharCode(97 + i), String.fromCharCode(98 + i)];
      bomb.push(`  ${next}: &${next} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const lines = await outcome(`${bomb.join('\n')}\n`);
    expect(lines).toEqual([
      expect.stringMatching(
        /^storage\.e\[\d\] \(6:\d+\): invalid YAML: aliases add more than 100000 values to the configuration; write the values out instead$/,
      ),
    ]);
  });

  it('refuses a recursive alias and an alias without an anchor', async () => {
    expect(await outcome('storage: &a\n  x: *a\n')).toEqual([
      'storage.x (2:3): a value may not contain itself (recursive alias)',
    ]);
    expect(await outcome('storage:\n  x: *nowhere\n')).toEqual([
      'storage.x (2:3): invalid YAML: the alias *nowhere names no anchor (&nowhere) written before it',
    ]);
  });

  it('merges as YAML says (keys written win, then earlier merged mappings), and refuses a merge of a scalar', async () => {
    const config = await loaded(
      'storage:\n  a: &a {x: 1, y: 1}\n  b: &b {y: 2, z: 2}\n  c:\n    <<: [*a, *b]\n    x: 3\n',
    );
    expect((config.storage as Record<string, unknown>).c).toEqual({ x: 3, y: 1, z: 2 });
    expect(await outcome('authentication:\n  <<: 1\n')).toEqual([
      'authentication (2:7): invalid YAML: a merge key (<<) takes a mapping or a list of mappings; got 1',
    ]);
    expect(await outcome('authentication:\n  <<: [{required: true}, x]\n')).toEqual([
      'authentication (2:26): invalid YAML: a merge key (<<) takes a mapping or a list of mappings; got "x"',
    ]);
  });
});

describe('documents, tags and bytes', () => {
  it('refuses a key written twice, naming both places', async () => {
    expect(await outcome('version: "2.0"\nversion: "2.0"\n')).toEqual([
      'version (2:1): invalid YAML: the key "version" is written twice in this mapping (first at 1:1)',
    ]);
  });

  it('refuses a second document, and accepts a trailing empty one', async () => {
    expect(await outcome('version: "2.0"\n---\nauthentication: {required: true}\n')).toEqual([
      '(root) (2:1): invalid YAML: a configuration file holds one document, and another one starts here',
    ]);
    expect(await outcome('---\nversion: "2.0"\n---\n')).toEqual(['valid']);
  });

  it('refuses tags that are not plain YAML, wherever they are', async () => {
    expect(await outcome('authentication:\n  required: !!binary dHJ1ZQ==\n')).toEqual([
      'authentication.required (2:13): invalid YAML: the tag !!binary is not supported; write the value without it',
    ]);
    expect(await outcome("storage: !!js/function 'function () {}'\n")).toEqual([
      'storage (1:10): invalid YAML: the tag !!js/function is not supported; write the value without it',
    ]);
    expect(await outcome('authentication:\n  required: !custom true\n')).toEqual([
      'authentication.required (2:13): invalid YAML: the tag !custom is not supported; write the value without it',
    ]);
    expect(await outcome('%YAML 1.1\n---\nstorage: !!set {a, b}\n')).toEqual([
      'storage (3:10): invalid YAML: the tag !!set is not supported; write the value without it',
    ]);
  });

  it("reads YAML 1.2's core types whatever the %YAML directive, as Flipt does", async () => {
    expect(await outcome('%YAML 1.1\n---\nauthentication:\n  required: yes\n')).toEqual([
      'authentication.required (4:13): must be a boolean (true or false); got "yes"',
    ]);
    const config = await loaded('version: !!str 2.0\nstorage: {date: 2001-12-14, n: !!int "12"}\n');
    expect(config.version).toBe('2.0');
    expect(config.storage).toEqual({ date: '2001-12-14', n: 12 });
  });

  it('refuses bytes that are not UTF-8, at the first one', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('authentication:\n  required: caf'),
      Buffer.from([0xe9, 0x0a]),
    ]);
    expect(await outcome(latin1)).toEqual([
      '(root) (2:16): the file is not UTF-8 text: byte 0xe9 does not start a character; save it as UTF-8',
    ]);
    const utf16 = Buffer.from('\ufeffversion: "2.0"\n', 'utf16le');
    expect(await outcome(utf16)).toEqual(['(root) (1:1): the file is UTF-16 text; save it as UTF-8']);
  });

  it('reads a file with a byte order mark, counting columns from the first visible character', async () => {
    expect(await outcome('\ufeffversion: "2.0"\n')).toEqual(['valid']);
    expect(await outcome('\ufeffauthentication: {required: nope}\n')).toEqual([
      'authentication.required (1:28): must be a boolean (true or false); got "nope"',
    ]);
  });

  it('reads an empty file as no settings, and refuses a top level that is a list or a scalar', async () => {
    expect(await outcome('')).toEqual(['valid']);
    expect(await outcome('# nothing yet\n')).toEqual(['valid']);
    expect(await outcome('- authentication\n')).toEqual([
      '(root) (1:1): the configuration must be a mapping of sections; got a list of 1 item',
    ]);
    expect(await outcome('\n\njust text\n')).toEqual([
      '(root) (3:1): the configuration must be a mapping of sections; got "just text"',
    ]);
  });

  it('reports every structural problem of a file at once, in file order', async () => {
    expect(await outcome('a: 1\n[x]: 2\na: 3\nb: !!binary eA==\n')).toEqual([
      '(root) (2:1): a key must be text; got a list of 1 item',
      'a (3:1): invalid YAML: the key "a" is written twice in this mapping (first at 1:1)',
      'b (4:4): invalid YAML: the tag !!binary is not supported; write the value without it',
    ]);
  });
});
