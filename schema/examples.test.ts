import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { assembleSchema } from '../core/config/schema.ts';
import { ConfigError, formatIssue } from '../core/errors.ts';
import { BUILTIN_PLUGINS } from '../core/plugins/builtins.ts';

const here = import.meta.dirname;
const examples = (kind: 'valid' | 'invalid') =>
  readdirSync(join(here, 'examples', kind))
    .filter((name) => name.endsWith('.yaml'))
    .sort();

describe('valid examples', () => {
  it('include every configuration block of the Flipt v2 seed document that Flipt itself accepts', () => {
    expect(examples('valid').filter((name) => name.startsWith('seed-'))).toHaveLength(20);
  });

  for (const name of examples('valid')) {
    it(`${name} validates`, async () => {
      const loaded = await loadConfig({ file: join(here, 'examples', 'valid', name), env: {} });
      expect(loaded.config.authentication).toBeDefined();
    });
  }
});

describe('invalid examples', () => {
  for (const name of examples('invalid')) {
    it(`${name} is refused with exactly the expected problems`, async () => {
      const expected = readFileSync(
        join(here, 'examples', 'invalid', name.replace(/\.yaml$/, '.expected')),
        'utf8',
      );
      const error = await loadConfig({ file: join(here, 'examples', 'invalid', name), env: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect(`${(error as ConfigError).issues.map(formatIssue).join('\n')}\n`).toBe(expected);
    });
  }
});

describe('editor schema', () => {
  it('schema/portcullis.schema.json is the assembled built-in schema (regenerate with npm run schema:generate)', () => {
    const committed = readFileSync(join(here, 'portcullis.schema.json'), 'utf8');
    expect(committed).toBe(`${JSON.stringify(assembleSchema(BUILTIN_PLUGINS), null, 2)}\n`);
  });
});
