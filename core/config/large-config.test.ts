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

/** Milliseconds to load `text` as a file (refused or not). */
async function loadTime(text: string): Promise<number> {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(file, text);
  const started = performance.now();
  await loadConfig({ file, env: {} }).catch((error: unknown) => {
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
