/**
 * The inputs of issue 14, item 8, through the real command line: each is reported as located problems on
 * standard output, exit 1, and nothing else (no bare exception message, no Node warning on standard error).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../core/test-support/cli.ts';
import { tempFiles } from '../core/test-support/tmp.ts';

const LOCATED = /^\S+ \((\d+:\d+|env FLIPT_\w+)\): \S/;

async function validate(config: string, env: Record<string, string> = {}) {
  const dir = tempFiles({ 'config.yaml': config });
  const result = await runCli(['validate', '--config', join(dir, 'config.yaml')], { env });
  const lines = result.stdout.trimEnd().split('\n');
  expect(result).toMatchObject({ code: 1, stderr: '' });
  for (const line of lines) expect(line).toMatch(LOCATED);
  return lines;
}

const TOKENS =
  'authentication:\n  methods:\n    token:\n      enabled: true\n      storage:\n        tokens:\n';

describe('portcullis validate, on input of an unexpected shape', () => {
  it('secrets: x beside a ${secret:file:k}', async () => {
    const lines = await validate(
      `secrets: x\n${TOKENS}          ci:\n            credential: \${secret:file:k}\n`,
    );
    expect(lines).toEqual([expect.stringMatching(/^secrets \(1:10\): must be a mapping; got /)]);
  });

  it('a top-level toString', async () => {
    expect(await validate('toString: 1\n')).toEqual([
      expect.stringMatching(/^toString \(1:1\): unknown top-level section "toString"/),
    ]);
  });

  it('2,000 nested mappings', async () => {
    const nested = Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k:\n`).join('');
    expect(await validate(`${nested}${' '.repeat(2000)}x: 1\n`)).toEqual([
      `${Array(64).fill('k').join('.')} (65:65): is nested too deeply: at most 64 levels of mappings and lists are read`,
    ]);
  });

  it('a list as a key, at the top and under tokens (where it once made a token named "[ x ]")', async () => {
    expect(await validate('? [a, b]\n: c\n')).toEqual([
      '(root) (1:3): a key must be text; got a list of 2 items',
    ]);
    expect(await validate('[a]: 1\n')).toEqual(['(root) (1:1): a key must be text; got a list of 1 item']);
    expect(await validate(`${TOKENS}          ? [x]\n          : credential: abcdef\n`)).toEqual([
      'authentication.methods.token.storage.tokens (7:13): a key must be text; got a list of 1 item',
    ]);
  });

  it('a block created only by an environment variable, beside an empty file', async () => {
    const variable = 'FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_CI_METADATA_ROLE';
    expect(await validate('', { [variable]: 'x' })).toEqual([
      `authentication.methods.token.storage.tokens.ci.credential (env ${variable}): is required`,
    ]);
  });

  it('a FLIPT_* variable naming the key __proto__, beside an empty file: refused, as in a file', async () => {
    const variable = 'FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS___PROTO___CREDENTIAL';
    expect(await validate('', { [variable]: 'protosecret' })).toEqual([
      `authentication.methods.token.storage.tokens.__proto__ (env ${variable}): the key "__proto__" is not allowed`,
    ]);
  });

  it('/dev/zero as the file: one message naming the file and the limit, at once', async () => {
    const result = await runCli(['validate', '--config', '/dev/zero']);
    expect(result).toMatchObject({
      code: 1,
      stdout:
        'cannot read configuration file /dev/zero: the file is larger than 16 MiB, the most portcullis reads\n',
      stderr: '',
    });
  });

  it('thousands of problems: the first 200, then how many more', async () => {
    const dir = tempFiles({ 'config.yaml': Array.from({ length: 5000 }, (_, i) => `key${i}: 1\n`).join('') });
    const result = await runCli(['validate', '--config', join(dir, 'config.yaml')]);
    const lines = result.stdout.trimEnd().split('\n');
    expect(result.code).toBe(1);
    expect(lines).toHaveLength(201);
    expect(lines.at(-1)).toBe('… and 4800 more problems');
  });
});
