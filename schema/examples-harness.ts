/**
 * The examples, run through a given build of `loadConfig`: the sources (examples.test.ts) and the compiled `dist/`
 * with its precompiled validator (examples.dist.test.ts) must give exactly the same answers.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface Issue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** The parts of a build that the examples need. */
export interface Build {
  readonly loadConfig: (options: {
    file: string;
    env: Record<string, string>;
  }) => Promise<{ warnings: readonly Issue[] }>;
  readonly formatIssue: (issue: Issue) => string;
}

const examplesDir = join(import.meta.dirname, 'examples');

export function examples(kind: 'valid' | 'invalid'): string[] {
  return readdirSync(join(examplesDir, kind))
    .filter((name) => name.endsWith('.yaml'))
    .sort();
}

function expected(kind: 'valid' | 'invalid', name: string, extension: string): string {
  const file = join(examplesDir, kind, name.replace(/\.yaml$/, extension));
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/**
 * The environment an example is loaded with: none, or the `NAME=value` lines of its `.env` file (a value as written
 * after the first `=`; blank lines and `#` comments skipped).
 */
function environment(kind: 'valid' | 'invalid', name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of expected(kind, name, '.env').split('\n')) {
    const at = line.indexOf('=');
    if (line.startsWith('#') || at <= 0) continue;
    env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

const lines = (issues: readonly Issue[], format: (issue: Issue) => string) =>
  issues.length === 0 ? '' : `${issues.map(format).join('\n')}\n`;

export function describeExamples(label: string, build: () => Promise<Build>): void {
  describe(`${label}: valid examples`, () => {
    for (const name of examples('valid')) {
      it(`${name} validates, with exactly the expected warnings`, async () => {
        const { loadConfig, formatIssue } = await build();
        const loaded = await loadConfig({
          file: join(examplesDir, 'valid', name),
          env: environment('valid', name),
        });
        expect(lines(loaded.warnings, formatIssue)).toBe(expected('valid', name, '.warnings'));
      });
    }
  });

  describe(`${label}: invalid examples`, () => {
    for (const name of examples('invalid')) {
      it(`${name} is refused with exactly the expected problems`, async () => {
        const { loadConfig, formatIssue } = await build();
        const env = environment('invalid', name);
        const error = await loadConfig({ file: join(examplesDir, 'invalid', name), env }).then(
          () => undefined,
          (e: unknown) => e as { issues?: readonly Issue[] },
        );
        expect(error?.issues, 'expected a ConfigError').toBeDefined();
        expect(lines(error?.issues ?? [], formatIssue)).toBe(expected('invalid', name, '.expected'));
      });
    }
  });
}
