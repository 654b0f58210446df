/**
 * The conformance cases of a secret provider: its source is created as the runtime creates it, and references
 * are resolved through a real runtime.
 */
import assert from 'node:assert/strict';
import { loadConfig } from '../../core/config/load.ts';
import { ErrorCodes, errorCode } from '../../core/errors.ts';
import { createLogger, SecretScrubber } from '../../core/log.ts';
import { createSecretContext } from '../../core/plugins/context.ts';
import type { SecretProvider, SecretSource } from '../../core/plugins/contracts.ts';
import { createRuntime } from '../../core/runtime.ts';
import { allAnsweredRight } from './concurrency.ts';
import { watchResources } from './handles.ts';
import { assertNoSecrets, assertSearchable, errorPlaces, type Place } from './leaks.ts';
import { withReferences } from './references.ts';
import { assertContractAndSchema } from './schema.ts';
import { registryWith } from './server.ts';
import type { ConformanceCase, SecretProviderFixtures } from './types.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The values the harness seeds: a single value, and a JSON object whose fields are selected by key. */
const PLAIN = 'conformance-plain-value-7Qx2';
const JSON_FIELDS = { username: 'conformance-user-9Lk4', password: 'conformance-password-3Vb8' } as const;
const MISSING_KEY = 'conformance-no-such-key';

/** A source created as the runtime creates one, with its log lines. */
interface OpenSource {
  readonly source: SecretSource;
  readonly logLines: string[];
  close(): Promise<void>;
}

/**
 * The conformance cases of `provider` with `fixtures`: contract and schema, `validate` with unresolved
 * references, `get` with and without a key, `ERR_SECRET_NOT_FOUND` for a missing secret or key, no value in any
 * error, create/close without leaks, resolution through a runtime, and concurrent gets.
 */
export function secretProviderCases(
  provider: SecretProvider<object>,
  fixtures: SecretProviderFixtures,
): ConformanceCase[] {
  const paths = {
    plain: fixtures.paths?.plain ?? 'conformance-plain',
    json: fixtures.paths?.json ?? 'conformance-json',
    missing: fixtures.paths?.missing ?? 'conformance-missing',
  };
  const values = [PLAIN, ...Object.values(JSON_FIELDS), JSON.stringify(JSON_FIELDS)];
  const concurrency = fixtures.concurrency ?? 50;
  const written = (extra: Record<string, unknown> = {}) => ({
    ...extra,
    secrets: { providers: { [provider.name]: { enabled: true, ...fixtures.config } } },
  });
  const load = (extra?: Record<string, unknown>) =>
    loadConfig({ object: written(extra), env: { ...fixtures.env }, registry: registryWith(provider) });
  /** The provider's block as the runtime hands it to `create`: validated, defaults applied. */
  const typedBlock = async () => {
    const block = (await load()).config.secrets.providers[provider.name];
    assert.ok(isObject(block), 'the validated configuration has no block for the provider');
    return block;
  };
  let seeded: Promise<void> | undefined;
  const seed = () => {
    const write = fixtures.seed as NonNullable<SecretProviderFixtures['seed']>;
    seeded ??= (async () => {
      await write(paths.plain, PLAIN);
      await write(paths.json, JSON.stringify(JSON_FIELDS));
    })();
    return seeded;
  };
  const open = async (): Promise<OpenSource> => {
    await seed();
    const logLines: string[] = [];
    const log = createLogger({ level: 'debug', encoding: 'json', keys: {} }, new SecretScrubber(), {
      write: (line: string) => logLines.push(line),
    });
    const source = await provider.create(
      createSecretContext({ name: provider.name, log, env: { ...fixtures.env } }),
      await typedBlock(),
    );
    return { source, logLines, close: async () => source.close?.() };
  };
  const withSource = async (body: (source: SecretSource, opened: OpenSource) => Promise<void>) => {
    const opened = await open();
    try {
      await body(opened.source, opened);
    } finally {
      await opened.close();
    }
  };
  const rejection = async (attempt: Promise<string>, what: string): Promise<unknown> => {
    try {
      await attempt;
    } catch (error) {
      return error;
    }
    return assert.fail(`${what} resolved to a value`);
  };
  const assertNotFound = async (attempt: Promise<string>, what: string) => {
    const error = await rejection(attempt, what);
    assert.equal(errorCode(error), ErrorCodes.SECRET_NOT_FOUND, `${what} rejected with ${String(error)}`);
  };

  const sourceSkip =
    fixtures.unavailable ??
    (fixtures.seed === undefined
      ? 'no seed fixture given: the harness cannot put secrets in the store'
      : undefined);

  return [
    {
      name: 'contract: the plugin meets the contract, and configSchema is a valid, closed JSON Schema',
      run: () => assertContractAndSchema(provider),
    },
    {
      name: "configuration: the fixture's block is a valid configuration",
      async run() {
        await typedBlock();
      },
    },
    {
      name: 'validate: accepts a block whose text settings hold unresolved ${secret:…} references',
      skip:
        provider.validate === undefined
          ? 'the provider has no validate: nothing can refuse a reference'
          : undefined,
      async run() {
        const block = await typedBlock();
        const other = provider.name === 'file' ? 'vault' : 'file';
        const referenced =
          fixtures.configWithReferences === undefined
            ? withReferences(block, provider.configSchema, other)
            : overlayReferences(block, fixtures.configWithReferences);
        assert.ok(referenced.replaced.length > 0, 'the block has no text setting to hold a reference');
        const root = (await load()).config;
        const validate = provider.validate as NonNullable<SecretProvider<object>['validate']>;
        const issues = validate.call(provider, referenced.block, root);
        assert.deepEqual(issues, [], `validate refused references at ${referenced.replaced.join(', ')}`);
      },
    },
    {
      name: 'get(path): returns a seeded value',
      skip: sourceSkip,
      run: () =>
        withSource(async (source) => {
          assert.equal(await source.get(paths.plain), PLAIN, `get(${paths.plain}) returned another value`);
        }),
    },
    {
      name: 'get(path, key): selects a field of a JSON secret',
      skip: sourceSkip,
      run: () =>
        withSource(async (source) => {
          for (const [key, value] of Object.entries(JSON_FIELDS)) {
            assert.equal(
              await source.get(paths.json, key),
              value,
              `get(${paths.json}, ${key}) returned another value`,
            );
          }
        }),
    },
    {
      name: 'missing secret: rejects with ERR_SECRET_NOT_FOUND',
      skip: sourceSkip,
      run: () => withSource((source) => assertNotFound(source.get(paths.missing), `get(${paths.missing})`)),
    },
    {
      name: 'missing key: rejects with ERR_SECRET_NOT_FOUND',
      skip: sourceSkip,
      run: () =>
        withSource((source) =>
          assertNotFound(source.get(paths.json, MISSING_KEY), `get(${paths.json}, ${MISSING_KEY})`),
        ),
    },
    {
      name: 'no secret value appears in an error message or a log line',
      skip: sourceSkip,
      async run() {
        assertSearchable(fixtures.secrets ?? [], 'secrets');
        const places: Place[] = [];
        const opened = await open();
        try {
          const attempts: Array<[string, () => Promise<string>]> = [
            [`get(${paths.missing})`, () => opened.source.get(paths.missing)],
            [`get(${paths.json}, ${MISSING_KEY})`, () => opened.source.get(paths.json, MISSING_KEY)],
            [`get(${paths.plain}, username)`, () => opened.source.get(paths.plain, 'username')],
          ];
          for (const [what, attempt] of attempts) {
            try {
              await attempt();
            } catch (error) {
              places.push(...errorPlaces(error, `the error of ${what}`));
            }
          }
        } finally {
          await opened.close();
        }
        opened.logLines.forEach((line, i) => {
          places.push({ where: `log line ${i + 1}`, text: line });
        });
        // A reference that cannot be resolved stops the runtime: its message names the reference, not a value.
        const runtimeLog: string[] = [];
        try {
          const runtime = await createRuntime({
            object: written(tokenReferences(provider.name, `${paths.json}:${MISSING_KEY}`)),
            env: { ...fixtures.env },
            registry: registryWith(provider),
            logDestination: { write: (line: string) => runtimeLog.push(line) },
          });
          await runtime.close();
          assert.fail(`the runtime resolved \${secret:${provider.name}:${paths.json}:${MISSING_KEY}}`);
        } catch (error) {
          places.push(...errorPlaces(error, 'the error of a runtime with a missing key'));
        }
        runtimeLog.forEach((line, i) => {
          places.push({ where: `runtime log line ${i + 1}`, text: line });
        });
        assertNoSecrets([...values, ...(fixtures.secrets ?? [])], places);
      },
    },
    {
      name: 'resolution: ${secret:<provider>:<path>} and ${secret:<provider>:<path>:<key>} resolve in a runtime',
      skip: sourceSkip,
      async run() {
        await seed();
        const runtime = await createRuntime({
          object: written(tokenReferences(provider.name, paths.plain, `${paths.json}:username`)),
          env: { ...fixtures.env },
          registry: registryWith(provider),
          logDestination: { write: () => undefined },
        });
        try {
          const tokens = (
            runtime.config.authentication.methods.token as unknown as {
              storage: { tokens: Record<string, { credential: string }> };
            }
          ).storage.tokens;
          assert.equal(
            tokens.conformance0?.credential,
            PLAIN,
            'the two-part reference resolved to another value',
          );
          assert.equal(
            tokens.conformance1?.credential,
            JSON_FIELDS.username,
            'the three-part reference resolved to another value',
          );
        } finally {
          await runtime.close();
        }
      },
    },
    {
      name: 'lifecycle: create, get and close leave no new timers, sockets or handles',
      skip: sourceSkip,
      async run() {
        // A first run loads modules and lazy singletons that stay for the life of the process: followed only to be
        // released if the check fails (what it leaked too would otherwise keep a failing run from ending).
        const watch = watchResources();
        try {
          await withSource(async (source) => {
            await source.get(paths.plain);
          });
          await watch.checkFromNow();
          await withSource(async (source) => {
            await source.get(paths.plain);
            await source.get(paths.json, 'username');
          });
          await watch.assertNoneLeft('creating, using and closing the source');
        } finally {
          watch.stop();
        }
      },
    },
    {
      name: `concurrency: ${concurrency} gets at once, each answered right`,
      skip: sourceSkip,
      run: () =>
        withSource(async (source) => {
          await allAnsweredRight(
            Array.from({ length: concurrency }, async (_, i) => {
              switch (i % 3) {
                case 0:
                  assert.equal(await source.get(paths.plain), PLAIN, `get ${i} (plain)`);
                  break;
                case 1:
                  assert.equal(
                    await source.get(paths.json, 'password'),
                    JSON_FIELDS.password,
                    `get ${i} (key)`,
                  );
                  break;
                default:
                  await assertNotFound(source.get(paths.missing), `get ${i} (missing)`);
              }
            }),
          );
        }),
    },
  ];
}

/** A token section whose static credentials are the given references of `provider` (`path` or `path:key`). */
function tokenReferences(provider: string, ...references: string[]): Record<string, unknown> {
  const tokens = Object.fromEntries(
    references.map((reference, i) => [
      `conformance${i}`,
      { credential: `\${secret:${provider}:${reference}}` },
    ]),
  );
  return { authentication: { methods: { token: { enabled: true, storage: { tokens } } } } };
}

/** `block` with every reference of `written` set at the same place. */
function overlayReferences(
  block: Record<string, unknown>,
  written: Readonly<Record<string, unknown>>,
): { block: Record<string, unknown>; replaced: string[] } {
  const replaced: string[] = [];
  const overlay = (
    target: Record<string, unknown>,
    source: Readonly<Record<string, unknown>>,
    at: string[],
  ) => {
    const result: Record<string, unknown> = { ...target };
    for (const [key, value] of Object.entries(source)) {
      if (typeof value === 'string' && value.startsWith('${secret:')) {
        result[key] = value;
        replaced.push([...at, key].join('.'));
      } else if (isObject(value)) {
        result[key] = overlay(isObject(target[key]) ? target[key] : {}, value, [...at, key]);
      }
    }
    return result;
  };
  return { block: overlay(block, written, []), replaced };
}
