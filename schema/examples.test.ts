import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { assembleSchema } from '../core/config/schema.ts';
import { formatIssue } from '../core/errors.ts';
import { BUILTIN_PLUGINS } from '../core/plugins/builtins.ts';
import { describeExamples, examples } from './examples-harness.ts';

describe('the examples', () => {
  it('include every configuration block of the Flipt v2 seed document that Flipt itself accepts', () => {
    expect(examples('valid').filter((name) => name.startsWith('seed-'))).toHaveLength(20);
    expect(examples('invalid').filter((name) => name.startsWith('seed-'))).toHaveLength(5);
  });
});

describeExamples('sources', async () => ({ loadConfig, formatIssue }));

describe('editor schema', () => {
  it('schema/portcullis.schema.json is the assembled built-in schema (regenerate with npm run schema:generate)', () => {
    const committed = readFileSync(join(import.meta.dirname, 'portcullis.schema.json'), 'utf8');
    expect(committed).toBe(`${JSON.stringify(assembleSchema(BUILTIN_PLUGINS), null, 2)}\n`);
  });
});
