/**
 * Large configurations take time in proportion to their size (issue 14, item 9). Times are compared with each
 * other, never with a budget: four times the input must take less than eight times as long (a check that scans
 * siblings for each problem takes sixteen). Timing goals live in `npm run bench`, not here.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../errors.ts';
import { tempDir } from '../test-support/tmp.ts';
import { loadConfig } from './load.ts';

/** How many problems are listed (errors.ts's LISTED_PROBLEMS, written out so this test also runs on older code). */
const LISTED_PROBLEMS = 200;

const TOKENS =
  'authentication:\n  methods:\n    token:\n      enabled: true\n      storage:\n        tokens:\n';

/** Generated configurations of `n` siblings, each kind a place where per-item work once looked at every sibling. */
const KINDS = {
  'unknown top-level keys': (n: number) => Array.from({ length: n }, (_, i) => `key${i}: ${i}\n`).join(''),
  'unknown keys in a section': (n: number) =>
    `authentication:\n${Array.from({ length: n }, (_, i) => `  key${i}: ${i}\n`).join('')}`,
  'a key written again and again': (n: number) => Array.from({ length: n }, (_, i) => `key: ${i}\n`).join(''),
  'static tokens with secret references': (n: number) =>
    `${TOKENS}${Array.from({ length: n }, (_, i) => `          t${i}: {credential: "\${secret:file:c${i}}"}\n`).join('')}`,
  'a long list of refused items': (n: number) =>
    `gateway:\n  trusted_proxies:\n${Array.from({ length: n }, (_, i) => `    - not-an-address-${i}\n`).join('')}`,
} as const;

/**
 * Generated configurations where problems of several kinds meet: each check that looks at every problem of one
 * kind for each of another (or at every variable for each problem) is quadratic only here.
 */
const MIXED = {
  'static tokens each refused by the schema twice (a plugin block with many problems)': (n: number) =>
    `${TOKENS}${Array.from({ length: n }, (_, i) => `          t${i}: {credential: 5, bogus: 1}\n`).join('')}`,
  'static tokens, half with credentials, half refused': (n: number) =>
    `${TOKENS}${Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `          t${i}: {credential: 5, bogus: 1}\n` : `          t${i}: {credential: "secret-value-${i}"}\n`)).join('')}`,
} as const;

/** Variables that add `n` static tokens and set metadata on the `n` tokens of {@link MIXED}'s first kind. */
function tokenVariables(n: number): Record<string, string> {
  const env: Record<string, string> = {};
  const prefix = 'FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS';
  for (let i = 0; i < n; i++) {
    env[`${prefix}_E${i}_CREDENTIAL`] = `credential-${i}`;
    env[`${prefix}_T${i}_METADATA_ROLE`] = `role-${i}`;
  }
  return env;
}

/** Milliseconds to load `text` as a file (refused or not). */
async function loadTime(text: string, env: Record<string, string> = {}): Promise<number> {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(file, text);
  const started = performance.now();
  await loadConfig({ file, env }).catch((error: unknown) => {
    if (!(error instanceof ConfigError)) throw error;
  });
  return performance.now() - started;
}

/** The time for `large` siblings over the time for `small`, after a warm-up (the first load compiles the schema). */
async function growth(kind: (n: number) => string, small: number, large: number): Promise<number> {
  await loadTime(kind(1000));
  const smallTime = await loadTime(kind(small));
  const largeTime = await loadTime(kind(large));
  return largeTime / smallTime;
}

describe('time to validate grows with the size of the configuration', () => {
  it('200,000 unknown top-level keys take less than 8 times as long as 50,000', {
    timeout: 300_000,
  }, async () => {
    expect(await growth(KINDS['unknown top-level keys'], 50_000, 200_000)).toBeLessThan(8);
  });

  for (const [name, kind] of Object.entries(KINDS)) {
    it(`${name}: 30,000 take less than 8 times as long as 7,500`, { timeout: 300_000 }, async () => {
      expect(await growth(kind, 7_500, 30_000)).toBeLessThan(8);
    });
  }

  // Linear work grows about 3.5 times here (measured); quadratic work grew more than 10 times.
  for (const [name, kind] of Object.entries(MIXED)) {
    it(`${name}: 20,000 take less than 6 times as long as 5,000`, { timeout: 300_000 }, async () => {
      expect(await growth(kind, 5_000, 20_000)).toBeLessThan(6);
    });
  }

  it('thousands of FLIPT_* variables over thousands of problems: 8,000 of each take less than 6 times as long as 2,000', {
    timeout: 300_000,
  }, async () => {
    const kind = MIXED['static tokens each refused by the schema twice (a plugin block with many problems)'];
    await loadTime(kind(1000), tokenVariables(1000));
    const smallTime = await loadTime(kind(2_000), tokenVariables(2_000));
    const largeTime = await loadTime(kind(8_000), tokenVariables(8_000));
    expect(largeTime / smallTime).toBeLessThan(6);
  });
});

describe('a configuration with thousands of problems', () => {
  it(`lists the first ${LISTED_PROBLEMS}, in file order, and counts the rest`, async () => {
    const file = join(tempDir(), 'config.yaml');
    writeFileSync(file, KINDS['unknown keys in a section'](30_000));
    const error = await loadConfig({ file, env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, omitted, message } = error as ConfigError;
    expect(issues).toHaveLength(LISTED_PROBLEMS);
    expect(omitted).toBe(30_000 - LISTED_PROBLEMS);
    expect(formatIssue(issues[0] as ConfigError['issues'][number])).toMatch(
      /^authentication\.key0 \(2:3\): unknown key "key0"; expected one of: /,
    );
    expect(formatIssue(issues.at(-1) as ConfigError['issues'][number])).toMatch(
      /^authentication\.key199 \(201:3\)/,
    );
    expect(message.split('\n')).toHaveLength(1 + LISTED_PROBLEMS + 1);
    expect(message.split('\n').at(-1)).toBe('… and 29800 more problems');
  });
});
