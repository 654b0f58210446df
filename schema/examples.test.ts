import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
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

  // The seed document shows these options as excerpts of the block its section starts with; on their own Flipt
  // refuses them (no client credentials, no key source), and so do we. Laid over that block, unchanged, they load.
  const excerpts: ReadonlyArray<[excerpt: string, base: string]> = [
    ['seed-19-github-organizations.yaml', 'seed-18-github.yaml'],
    ['seed-20-github-teams.yaml', 'seed-18-github.yaml'],
    ['seed-25-jwt-validate-claims.yaml', 'seed-23-jwt-jwks.yaml'],
    ['seed-26-jwt-claims-mapping.yaml', 'seed-23-jwt-jwks.yaml'],
  ];
  for (const [excerpt, base] of excerpts) {
    it(`${excerpt} loads unchanged over ${base}, the block its section extends`, async () => {
      const read = (kind: string, name: string) =>
        parse(readFileSync(join(import.meta.dirname, 'examples', kind, name), 'utf8')) as Record<
          string,
          unknown
        >;
      const loaded = await loadConfig({
        object: deepMerge(read('valid', base), read('invalid', excerpt)),
        env: {},
      });
      const excerptMethods = (read('invalid', excerpt).authentication as { methods: Record<string, object> })
        .methods;
      for (const [method, block] of Object.entries(excerptMethods)) {
        expect(loaded.config.authentication.methods[method as 'github' | 'jwt']).toMatchObject(
          asFliptReadsIt(block),
        );
      }
      // The seed's `audiences: https://flipt.io/, https://flipt.com/` keeps the first comma; the operator is told.
      const baseWarnings = (await loadConfig({ object: read('valid', base), env: {} })).warnings;
      expect(loaded.warnings.map((warning) => warning.message)).toEqual([
        ...baseWarnings.map((warning) => warning.message),
        ...(excerpt.includes('validate-claims')
          ? [
              'a list written as a string is split on whitespace only, as in Flipt, so "https://flipt.io/," keeps its comma; write a YAML list',
            ]
          : []),
      ]);
    });
  }
});

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const under = merged[key];
    merged[key] = isPlainObject(under) && isPlainObject(value) ? deepMerge(under, value) : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Flipt reads `audiences: "a, b"` as the list `["a,", "b"]` (whitespace-split); so must we. */
function asFliptReadsIt(block: object): object {
  return JSON.parse(JSON.stringify(block), (key, value) =>
    key === 'audiences' && typeof value === 'string' ? value.split(/\s+/) : value,
  );
}

describe('the configurations the README and docker/ run', () => {
  for (const file of ['examples/config.yaml', 'docker/config.yaml']) {
    it(`${file} validates without warnings`, async () => {
      const loaded = await loadConfig({ file: join(import.meta.dirname, '..', file), env: {} });
      expect(loaded.warnings.map(formatIssue)).toEqual([]);
    });
  }
});

describeExamples('sources', async () => ({ loadConfig, formatIssue }));

describe('editor schema', () => {
  it('schema/portcullis.schema.json is the assembled built-in schema (regenerate with npm run schema:generate)', () => {
    const committed = readFileSync(join(import.meta.dirname, 'portcullis.schema.json'), 'utf8');
    expect(committed).toBe(`${JSON.stringify(assembleSchema(BUILTIN_PLUGINS), null, 2)}\n`);
  });
});
