/**
 * Issue 20: the config loader against arbitrary YAML trees and texts (see core/test-support/fuzz.ts): it either loads
 * or throws a ConfigError, never anything else, and every problem has a path and, for a file, a line and column.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigError, formatIssue } from '../errors.ts';
import { fuzz, fuzzTimeout, nastyString } from '../test-support/fuzz.ts';
import { tempDir } from '../test-support/tmp.ts';
import { type LoadOptions, loadConfig } from './load.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const EVERY_SETTING = readFileSync(join(ROOT, 'schema/examples/valid/every-setting.yaml'), 'utf8');
const BASE = parse(EVERY_SETTING) as Record<string, unknown>;

/** Every key the schema names (but `plugins`, which would import modules), and a few that are not keys. */
function schemaKeys(): string[] {
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && typeof value === 'object' && value !== null) {
        for (const name of Object.keys(value)) keys.add(name);
      }
      walk(value);
    }
  };
  walk(JSON.parse(readFileSync(join(ROOT, 'schema/portcullis.schema.json'), 'utf8')));
  keys.delete('plugins');
  return [...keys, '__proto__', 'constructor', '', ' ', '0', 'google', 'github', 'x'];
}

const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...schemaKeys()) }, nastyString(12));
const scalar = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    65536,
    1e300,
    '',
    '1h',
    '-5s',
    '0',
    'true',
    'redis',
    'memory',
  ),
  fc.constantFrom(
    '${secret:file:x}',
    '${secret:a b}',
    '${secret:vault:p:k:x}',
    '${env:NOPE}',
    'http://[::1',
    '/',
  ),
  nastyString(24),
  fc.integer(),
  fc.double(),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(key, tie('tree'), { maxKeys: 5 }),
  ),
}));

/** The every-setting example with values swapped for arbitrary trees at paths made of its keys or arbitrary ones. */
function paths(object: unknown, prefix: string[] = []): string[][] {
  if (typeof object !== 'object' || object === null) return [prefix];
  return [prefix, ...Object.entries(object).flatMap(([k, v]) => paths(v, [...prefix, k]))];
}
const BASE_PATHS = paths(BASE).filter((path) => path.length > 0);
const mutation = fc.tuple(fc.constantFrom(...BASE_PATHS), fc.option(key, { nil: undefined }), tree);
const mutated = fc.array(mutation, { minLength: 1, maxLength: 4 }).map((changes) => {
  const object = structuredClone(BASE);
  for (const [path, extra, value] of changes) {
    let node = object as Record<string, unknown>;
    for (const step of path.slice(0, -1)) {
      const next = node[step];
      if (typeof next !== 'object' || next === null) break;
      node = next as Record<string, unknown>;
    }
    const last = path.at(-1) as string;
    // Own keys, `__proto__` included, as YAML and JSON.parse make them (an assignment would swap a prototype).
    const set = (target: object, name: string, v: unknown) =>
      Object.defineProperty(target, name, { value: v, enumerable: true, writable: true, configurable: true });
    const current = node[last];
    if (extra === undefined) set(node, last, value);
    else if (typeof current === 'object' && current !== null && !Array.isArray(current))
      set(current, extra, value);
    else set(node, last, { [extra]: value });
  }
  return object;
});
const trees = fc.oneof(fc.dictionary(key, tree, { maxKeys: 6 }), mutated);

/** Texts: the every-setting example with characters inserted, removed or replaced, or arbitrary text. */
const edit = fc.tuple(fc.nat(EVERY_SETTING.length), fc.nat(8), nastyString(6));
const texts = fc.oneof(
  fc
    .array(edit, { minLength: 1, maxLength: 5 })
    .map((edits) =>
      edits.reduce(
        (text, [at, remove, insert]) => text.slice(0, at) + insert + text.slice(at + remove),
        EVERY_SETTING,
      ),
    ),
  trees.map((object) => stringify(object)),
  nastyString(200),
);

/** Loads, and checks the outcome: a configuration, or a ConfigError whose every problem is located. */
async function loadsOrLocates(options: LoadOptions, file: boolean): Promise<void> {
  const error = await loadConfig({ env: {}, cwd: ROOT, ...options }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) return;
  if (!(error instanceof ConfigError)) throw error;
  expect(error.issues.length).toBeGreaterThan(0);
  for (const issue of error.issues) {
    expect(Array.isArray(issue.path), formatIssue(issue)).toBe(true);
    expect(issue.message, formatIssue(issue)).not.toBe('');
    if (file) expect(issue.source, formatIssue(issue)).toMatchObject({ line: expect.any(Number) });
  }
}

it(
  'config loader: arbitrary trees given as an object load or fail with located problems',
  async () => {
    await fuzz('config loader (YAML trees)', trees, (object) => loadsOrLocates({ object }, false), 500);
  },
  fuzzTimeout(30_000),
);

it(
  'config loader: arbitrary YAML texts in a file load or fail with problems at a line and column',
  async () => {
    const dir = tempDir();
    let n = 0;
    await fuzz(
      'config loader (YAML texts)',
      texts,
      (text) => {
        const file = join(dir, `config-${n++}.yaml`);
        writeFileSync(file, text);
        return loadsOrLocates({ file }, true);
      },
      500,
    );
  },
  fuzzTimeout(30_000),
);

// Faults the runs above found, each kept as a named regression test.
it('fuzz regression: a key that starts with a flow indicator (",a: 1") is a located problem, not a thrown YAMLParseError', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.yaml'), 'authentication:\n  ,required: true\n');
  const error = await loadConfig({ file: join(dir, 'config.yaml'), env: {} }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).issues.map(formatIssue)).toEqual([
    'authentication[",required"] (2:3): invalid YAML: Plain value cannot start with flow indicator character ,',
  ]);
});

it('fuzz regression: a list given as an object whose prototype was swapped (list.__proto__ = {}) is a located problem, not a TypeError', async () => {
  const origins: unknown[] = ['https://a.example'];
  Object.setPrototypeOf(origins, {});
  const object = { authentication: { session: { csrf: { trusted_origins: origins } } } };
  const error = await loadConfig({ object, env: {} }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).issues.map(formatIssue)).toEqual([
    'authentication.session.csrf.trusted_origins: must be text, a number, a boolean, a list or a mapping; got a list with another prototype than a list',
  ]);
});
