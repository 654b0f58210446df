/**
 * Configurations of a shape the checks after the schema did not expect (issue 14, item 8): every problem is
 * reported located, never as an uncaught TypeError, and no key reaches an object's prototype.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigError, formatIssue } from '../errors.ts';
import { tempDir } from '../test-support/tmp.ts';
import { type LoadOptions, loadConfig } from './load.ts';

/** `valid`, or one line per problem; anything thrown that is not a ConfigError fails the test. */
async function outcome(options: LoadOptions): Promise<string[]> {
  try {
    await loadConfig(options);
    return ['valid'];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map(formatIssue);
  }
}

function file(content: string): string {
  const path = join(tempDir(), 'config.yaml');
  writeFileSync(path, content);
  return path;
}

const CI_TOKEN = (credential: string) =>
  `authentication:\n  methods:\n    token:\n      enabled: true\n      storage:\n        tokens:\n          ci:\n            credential: ${credential}\n`;

describe('sections of the wrong kind beside secret references', () => {
  it('refuses secrets: x beside a ${secret:file:k}, located, instead of failing on secrets.providers', async () => {
    expect(await outcome({ file: file(`secrets: x\n${CI_TOKEN('${secret:file:k}')}`), env: {} })).toEqual([
      expect.stringMatching(/^secrets \(1:10\): must be a mapping; got /),
    ]);
  });

  it('refuses providers of the wrong kind the same way', async () => {
    for (const secrets of ['secrets:\n  providers: x\n', 'secrets:\n  providers:\n    file: x\n']) {
      const lines = await outcome({ file: file(`${secrets}${CI_TOKEN('${secret:file:k}')}`), env: {} });
      expect(lines).toEqual([
        expect.stringMatching(/^secrets\.providers(\.file)? \(\d+:\d+\): must be a mapping; got /),
      ]);
    }
  });

  it('refuses session.cleanup beside a storage that is not a mapping, instead of writing into a string', async () => {
    const lines = await outcome({
      file: file('authentication:\n  session:\n    cleanup: {interval: 1h}\n    storage: x\n'),
      env: {},
    });
    expect(lines).toEqual([
      expect.stringMatching(/^authentication\.session\.storage \(4:14\): must be a mapping; got /),
    ]);
  });
});

describe('names an object inherits', () => {
  it('reads ${env:constructor} and its kin as unset variables, not as functions', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      expect(await outcome({ file: file(CI_TOKEN(`\${env:${name}}`)), env: {} })).toEqual([
        `authentication.methods.token.storage.tokens.ci.credential (8:13): authentication: credential non-empty value is required (from \${env:${name}})`,
      ]);
    }
    // Through a FLIPT_* variable too: the empty text it stands for is refused where a level goes.
    expect(await outcome({ object: {}, env: { FLIPT_LOG_LEVEL: '${env:toString}' } })).toEqual([
      expect.stringMatching(/^log\.level \(env FLIPT_LOG_LEVEL\): must be one of: debug, /),
    ]);
  });

  it('does not take constructor or toString for one of Go booleans', async () => {
    for (const word of ['constructor', 'toString', '__proto__']) {
      expect(await outcome({ file: file(`authentication:\n  required: ${word}\n`), env: {} })).toEqual([
        `authentication.required (2:13): must be a boolean (true or false); got "${word}"`,
      ]);
    }
  });

  it('takes inherited names anywhere in a full configuration as ordinary keys or refuses them, located', async () => {
    const everySetting = parse(
      readFileSync(
        join(import.meta.dirname, '..', '..', 'schema', 'examples', 'valid', 'every-setting.yaml'),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const mappings: Array<Record<string, unknown>> = [];
    const collect = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (typeof value === 'object' && value !== null) {
        mappings.push(value as Record<string, unknown>);
        Object.values(value).forEach(collect);
      }
    };
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
    let unlocated: string[] = [];
    let cases = 0;
    for (let m = 0; m < (mappings.length || 1); m++) {
      for (const name of names) {
        for (const value of [{ a: 1 }]) {
          const tree = structuredClone(everySetting);
          mappings.length = 0;
          collect(tree);
          // Defined rather than assigned, so that __proto__ is an own key, as YAML gives it.
          Object.defineProperty(mappings[m], name, {
            value,
            enumerable: true,
            configurable: true,
            writable: true,
          });
          const loaded = await loadConfig({ file: file(stringify(tree)), env: {} }).then(
            () => [],
            (error: unknown) => {
              if (!(error instanceof ConfigError)) throw error;
              return error.issues.filter((issue) => issue.source === undefined).map(formatIssue);
            },
          );
          unlocated = [...unlocated, ...loaded];
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(150);
    expect(unlocated).toEqual([]);
    for (const name of ['a', 'credential', 'required', 'enabled'])
      expect(Object.prototype).not.toHaveProperty(name);
  });
});

describe('blocks created by an environment variable', () => {
  it('locates a problem inside a block only a variable created at that variable', async () => {
    const variable = 'FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_CI_METADATA_ROLE';
    for (const content of ['', 'authentication:\n  required: false\n']) {
      expect(await outcome({ file: file(content), env: { [variable]: 'x' } })).toEqual([
        `authentication.methods.token.storage.tokens.ci.credential (env ${variable}): is required`,
      ]);
    }
  });

  it('locates what a plugin finds missing in a provider a variable created', async () => {
    const variable = 'FLIPT_AUTHENTICATION_METHODS_OIDC_PROVIDERS_GOOGLE_CLIENT_ID';
    const lines = await outcome({
      file: file(
        'authentication:\n  session: {domain: example.com}\n  methods:\n    oidc:\n      enabled: true\n      providers: {}\n',
      ),
      env: { [variable]: 'the-client' },
    });
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatch(
        new RegExp(`^authentication\\.methods\\.oidc\\.providers\\.google\\.\\w+ \\(env ${variable}\\): `),
      );
    }
  });

  it('still locates at the file what the file wrote beside a variable', async () => {
    expect(
      await outcome({
        file: file(
          'authentication:\n  methods:\n    token:\n      enabled: true\n      bootstrap: {expiration: x}\n',
        ),
        env: { FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_CI_CREDENTIAL: 'c' },
      }),
    ).toEqual([
      'authentication.methods.token.bootstrap.expiration (5:31): must be a duration such as 30s, 15m, 1h30m or 500ms; got "x"',
    ]);
  });
});

describe('configurations given as objects', () => {
  it('refuses values YAML cannot write, instead of failing to copy them', async () => {
    class Custom {}
    const lines = await outcome({
      object: { storage: { when: new Date(0), run: () => 1, custom: new Custom(), big: 1n } },
      env: {},
    });
    expect(lines).toEqual([
      'storage.when: must be text, a number, a boolean, a list or a mapping; got a Date object',
      'storage.run: must be text, a number, a boolean, a list or a mapping; got a function',
      'storage.custom: must be text, a number, a boolean, a list or a mapping; got a Custom object',
      'storage.big: must be text, a number, a boolean, a list or a mapping; got a bigint',
    ]);
  });

  it('takes a mapping value left undefined as a setting left out; an undefined list item is refused', async () => {
    const lines = await outcome({
      object: {
        authentication: { required: undefined, methods: { token: { enabled: true, storage: undefined } } },
      },
      env: {},
    });
    expect(lines).toEqual(['valid']);
    expect(await outcome({ object: { plugins: [undefined] }, env: {} })).toEqual([
      'plugins[0]: must be text, a number, a boolean, a list or a mapping; got undefined',
    ]);
  });

  it('refuses nesting deeper than 64 levels with one problem, however deep', async () => {
    let deep: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const lines = await outcome({ object: { storage: deep }, env: {} });
    expect(lines).toEqual([
      `storage${'.a'.repeat(63)}: is nested too deeply: at most 64 levels of mappings and lists are read`,
    ]);
  });
});
