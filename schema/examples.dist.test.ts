/**
 * The compiled build (`dist/`, made by `npm run build`, which `npm test` runs first) must answer every example as
 * the sources do, through the validator precompiled at build time rather than one compiled at start-up.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Build, describeExamples } from './examples-harness.ts';

const dist = join(import.meta.dirname, '..', 'dist');
const load = async <T>(path: string) => (await import(pathToFileURL(join(dist, path)).href)) as T;

async function build(): Promise<Build> {
  const { loadConfig } = await load<Pick<Build, 'loadConfig'>>('core/config/load.js');
  const { formatIssue } = await load<Pick<Build, 'formatIssue'>>('core/errors.js');
  return { loadConfig, formatIssue };
}

describe('dist', () => {
  it('exists (npm test builds it first)', () => {
    expect(existsSync(join(dist, 'core', 'config', 'builtin-validator.js'))).toBe(true);
  });

  it('validates the built-in schema with the precompiled validator', async () => {
    const { assembleSchema } = await load<{ assembleSchema: (entries: unknown) => Record<string, unknown> }>(
      'core/config/schema.js',
    );
    const { BUILTIN_PLUGINS } = await load<{ BUILTIN_PLUGINS: unknown }>('core/plugins/builtins.js');
    const { isPrecompiled } = await load<{ isPrecompiled: (schema: unknown) => Promise<boolean> }>(
      'core/config/validate.js',
    );
    expect(await isPrecompiled(assembleSchema(BUILTIN_PLUGINS))).toBe(true);
  });
});

describeExamples('dist', build);
