import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  type Authentication,
  type ConfigIssue,
  isSecretReference,
  type MethodInstance,
  type MethodPlugin,
  PluginError,
  type SecretProvider,
  type SecretSource,
  secretNotFound,
  selectSecretKey,
} from '../../core/plugins/kit/index.ts';
import { tempDir } from '../../core/test-support/tmp.ts';
import { type ConformanceCase, methodPluginCases, secretProviderCases } from './index.ts';
import type { MethodFixtures, SecretProviderFixtures } from './types.ts';

const PASSWORD = 'conformance-password-41d7';
const GOOD = `Test ${PASSWORD}`;
const BAD = 'Test conformance-wrong-password-9f';

/** A small well-behaved method: `Authorization: Test <password>`. `broken` replaces parts of it. */
function testMethod(
  broken: {
    readonly instance?: Partial<MethodInstance>;
    readonly create?: () => void;
    readonly configSchema?: MethodPlugin['configSchema'];
    readonly validate?: (config: { password: string }) => ConfigIssue[];
  } = {},
): MethodPlugin<{ password: string }> {
  return {
    kind: 'method',
    apiVersion: '^1.0.0',
    name: 'test',
    method: 'METHOD_TEST',
    sessionCompatible: false,
    configSchema: broken.configSchema ?? {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, password: { type: 'string' } },
    },
    validate:
      broken.validate ??
      ((config) =>
        isSecretReference(config.password) || config.password.length >= 8
          ? []
          : [{ path: ['password'], message: 'must be at least 8 characters' }]),
    create(ctx, config) {
      broken.create?.();
      return {
        schemes: ['Test'],
        async authenticate(credential): Promise<Authentication | null> {
          if (credential.value.startsWith('foreign-')) return null;
          if (credential.value !== config.password) {
            return ctx.error('ERR_UNAUTHENTICATED', 'wrong password', { reason: 'wrong_password' });
          }
          return { id: 'tester', method: 'METHOD_TEST', metadata: {} };
        },
        routes(app) {
          app.get('/hello', { config: { authenticate: false } }, async () => ({ hello: 'world' }));
        },
        ...broken.instance,
      };
    },
  };
}

const methodFixtures: MethodFixtures = {
  config: { password: PASSWORD },
  goodCredential: GOOD,
  badCredential: BAD,
  foreignCredential: 'Test foreign-credential',
  secrets: [PASSWORD],
  concurrency: 10,
};

function caseNamed(cases: readonly ConformanceCase[], start: string): ConformanceCase {
  const found = cases.find((c) => c.name.startsWith(start));
  if (found === undefined) throw new Error(`no case named "${start}…"`);
  return found;
}

/** The case of `plugin` (with {@link methodFixtures}) whose name starts with `start`. */
const methodCase = (plugin: MethodPlugin<{ password: string }>, start: string) =>
  caseNamed(methodPluginCases(plugin, methodFixtures), start);

describe('the method harness', () => {
  it('passes a well-behaved method on every case', async () => {
    const cases = methodPluginCases(testMethod(), methodFixtures);
    expect(cases.filter((c) => c.skip !== undefined)).toEqual([]);
    for (const conformanceCase of cases) await conformanceCase.run();
  });

  it('skips, with the reason, what the fixtures leave out', () => {
    const cases = methodPluginCases(testMethod(), { config: { password: PASSWORD } });
    expect(cases.filter((c) => c.skip !== undefined).map((c) => [c.name.split(':')[0], c.skip])).toEqual([
      ['foreign credential', 'no foreignCredential fixture given'],
      ['bad credential', 'no badCredential fixture given'],
      ['bad credential', 'no badCredential fixture given'],
      ['good credential', 'no goodCredential fixture given'],
      ['secrets', 'no secrets, goodCredential or badCredential fixture given: nothing to look for'],
      ['concurrency', 'needs both goodCredential and badCredential fixtures'],
    ]);
  });

  it('fails a schema left open', async () => {
    const plugin = testMethod({
      configSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          password: { type: 'string' },
          tls: { type: 'object', properties: { ca: { type: 'string' } } },
        },
      },
    });
    await expect(methodCase(plugin, 'contract:').run()).rejects.toThrow(
      'configSchema leaves objects open (add additionalProperties: false) at /properties/tls',
    );
  });

  it('fails a validate that checks the shape of a reference', async () => {
    const plugin = testMethod({
      validate: (config) =>
        config.password.startsWith('$') ? [{ path: ['password'], message: 'must not start with $' }] : [],
    });
    await expect(methodCase(plugin, 'validate:').run()).rejects.toThrow('must not start with $');
  });

  it('fails a method that leaves a timer running', async () => {
    const timers: NodeJS.Timeout[] = [];
    onTestFinished(() => {
      for (const timer of timers) clearInterval(timer);
    });
    const plugin = testMethod({ create: () => timers.push(setInterval(() => undefined, 60_000)) });
    await expect(methodCase(plugin, 'lifecycle:').run()).rejects.toThrow(
      /creating and closing the method left resources keeping the event loop alive: 1 × Timeout/,
    );
  });

  it('fails a method that refuses with a plain error', async () => {
    const plugin = testMethod({
      instance: {
        async authenticate() {
          throw new Error('no');
        },
      },
    });
    await expect(methodCase(plugin, 'bad credential: authenticate').run()).rejects.toThrow(
      'authenticate(bad) rejected without a code: Error: no',
    );
  });

  it('fails a method whose bad credential makes the server answer 500', async () => {
    const plugin = testMethod({
      instance: {
        // Neither null nor a rejection: the core cannot read it.
        authenticate: async () => undefined as unknown as null,
      },
    });
    await expect(methodCase(plugin, 'bad credential: a 401').run()).rejects.toThrow(
      'the bad credential: expected 401, got 500',
    );
  });

  it('fails a method that echoes a secret in its refusal', async () => {
    const plugin = testMethod({
      instance: {
        async authenticate(credential) {
          throw new PluginError(
            'ERR_UNAUTHENTICATED',
            `wrong password ${credential.value}, expected ${PASSWORD}`,
          );
        },
      },
    });
    const secrets = methodCase(plugin, 'secrets:');
    await expect(secrets.run()).rejects.toThrow(/secret #0 \(25 characters\) in log line \d+/);
    await expect(secrets.run()).rejects.toThrow(
      /secret #0 \(25 characters\) in an error from authenticate message/,
    );
    await expect(secrets.run()).rejects.not.toThrow(PASSWORD);
  });

  it('fails a method that mounts a route outside its prefix', async () => {
    const escaping = testMethod({
      instance: {
        async routes(app) {
          await app.register(
            async (scope) => {
              scope.get('/admin', async () => 'escaped');
            },
            { prefix: '/../../../..' },
          );
        },
      },
    });
    await expect(methodCase(escaping, 'routes:').run()).rejects.toThrow(
      'routes outside /auth/v1/method/test: /auth/v1/method/test/../../../../admin',
    );
    const hijacking = testMethod({
      instance: {
        routes(app) {
          app.register(
            fp(async (scope) => {
              scope.server.prependListener('request', () => undefined);
            }),
          );
        },
      },
    });
    await expect(methodCase(hijacking, 'routes:').run()).rejects.toThrow(
      'the method added a raw request listener to the HTTP server',
    );
  });

  it('fails a method that answers concurrent requests wrongly', async () => {
    let calls = 0;
    const plugin = testMethod({
      instance: {
        // Remembers the last caller for everyone: right alone, wrong under load.
        async authenticate(credential) {
          calls++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (calls > 1 && credential.value !== PASSWORD)
            return { id: 'tester', method: 'METHOD_TEST', metadata: {} };
          if (credential.value !== PASSWORD) throw new PluginError('ERR_UNAUTHENTICATED', 'wrong password');
          return { id: 'tester', method: 'METHOD_TEST', metadata: {} };
        },
      },
    });
    await expect(methodCase(plugin, 'concurrency:').run()).rejects.toThrow(
      /request \d+ \(bad\): expected 401, got 200/,
    );
  });
});

/** A store of files under `dir`, JSON key selection by the kit; `broken` replaces `get`. */
function testStore(
  broken?: (path: string, key?: string) => Promise<string>,
): SecretProvider<{ dir: string }> {
  return {
    kind: 'secrets',
    apiVersion: '^1.0.0',
    name: 'teststore',
    configSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, dir: { type: 'string' } },
    },
    validate: () => [],
    create(_ctx, config): SecretSource {
      return {
        get:
          broken ??
          (async (path, key) => {
            const { readFile } = await import('node:fs/promises');
            let value: string;
            try {
              value = await readFile(join(config.dir, path), 'utf8');
            } catch {
              throw secretNotFound(`secret "${path}" not found`);
            }
            return selectSecretKey(value, path, key);
          }),
      };
    },
  };
}

function storeFixtures(): SecretProviderFixtures {
  const dir = tempDir();
  return { config: { dir }, seed: (path, value) => writeFile(join(dir, path), value), concurrency: 9 };
}

describe('the store harness', () => {
  it('passes a well-behaved store on every case', async () => {
    for (const conformanceCase of secretProviderCases(testStore(), storeFixtures()))
      await conformanceCase.run();
  });

  it('skips the source cases, with the reason, for a store that cannot run or be seeded', () => {
    const unseeded = secretProviderCases(testStore(), { config: { dir: '/nowhere' } });
    expect(unseeded.filter((c) => c.skip !== undefined)).toHaveLength(8);
    expect(new Set(unseeded.map((c) => c.skip))).toEqual(
      new Set([undefined, 'no seed fixture given: the harness cannot put secrets in the store']),
    );
    const unavailable = secretProviderCases(testStore(), {
      ...storeFixtures(),
      unavailable: 'no emulator here',
    });
    expect(unavailable.filter((c) => c.skip === 'no emulator here')).toHaveLength(8);
  });

  it('fails a store that gives a missing key another code', async () => {
    const fixtures = storeFixtures();
    const store = testStore(async (path, key) => {
      const source = await testStore().create({} as never, fixtures.config as { dir: string });
      try {
        return await source.get(path, key);
      } catch (error) {
        if (key !== undefined) throw new PluginError('ERR_PLUGIN_FAILED', 'no such key');
        throw error;
      }
    });
    await expect(caseNamed(secretProviderCases(store, fixtures), 'missing key:').run()).rejects.toThrow(
      /rejected with PluginError: no such key/,
    );
  });

  it('fails a store that puts a value in an error message', async () => {
    const fixtures = storeFixtures();
    const store = testStore(async (path, key) => {
      const source = await testStore().create({} as never, fixtures.config as { dir: string });
      const value = await source.get(path);
      if (key === undefined) return value;
      try {
        return String(JSON.parse(value)[key]);
      } catch {
        throw secretNotFound(`${value} is not JSON`);
      }
    });
    await expect(caseNamed(secretProviderCases(store, fixtures), 'no secret value').run()).rejects.toThrow(
      /secret values were shown: secret #0 \(\d+ characters\) in the error of get\(conformance-plain, username\) message/,
    );
  });

  it('fails a store that leaves a socket open', async () => {
    const fixtures = storeFixtures();
    const { createServer } = await import('node:net');
    const servers: Array<import('node:net').Server> = [];
    onTestFinished(() => {
      for (const server of servers) server.close();
    });
    const store: SecretProvider<{ dir: string }> = {
      ...testStore(),
      async create(ctx, config) {
        const server = createServer().listen(0, '127.0.0.1');
        servers.push(server);
        await new Promise((resolve) => server.once('listening', resolve));
        return testStore().create(ctx, config);
      },
    };
    await expect(caseNamed(secretProviderCases(store, fixtures), 'lifecycle:').run()).rejects.toThrow(
      /left resources keeping the event loop alive: 1 × TCPSERVERWRAP/,
    );
  });
});

describe('the node:test adapter', () => {
  it('runs cases as tests and reports skipped ones with their reason', () => {
    const script = join(import.meta.dirname, 'test-support', 'node-test-run.ts');
    const run = spawnSync(
      process.execPath,
      [
        '--experimental-strip-types',
        '--disable-warning=ExperimentalWarning',
        '--test',
        '--test-reporter=tap',
        script,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.stdout).toMatch(/ok \d+ - contract: the plugin meets the contract/);
    expect(run.stdout).toMatch(/ok \d+ - good credential: .* # SKIP no goodCredential fixture given/);
    expect(run.stdout).toMatch(
      /ok \d+ - bad credential: authenticate .* # SKIP the method owns no Authorization scheme/,
    );
    expect(run.stdout).toContain('# pass 9');
    expect(run.stdout).toContain('# skipped 4');
    expect(run.stdout).toContain('# fail 0');
  });
});
