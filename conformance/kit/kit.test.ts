import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  type Authentication,
  type ConfigIssue,
  credentialBytes,
  frozenAuthentication,
  hashClientToken,
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
import { minimalMethod } from './test-support/minimal-method.ts';
import type { MethodFixtures, SecretProviderFixtures } from './types.ts';

const PASSWORD = 'conformance-password-41d7';
const GOOD = `Test ${PASSWORD}`;
const BAD = 'Test conformance-wrong-password-9f';

/**
 * A small well-behaved method: `Authorization: Test <password>`; the password is also a static client token
 * (`findClientToken`), and `identity` reads the user from the id. `broken` replaces parts of it.
 */
function testMethod(
  broken: {
    readonly instance?: Partial<MethodInstance>;
    readonly create?: () => void;
    readonly configSchema?: MethodPlugin['configSchema'];
    readonly validate?: (config: { password: string }) => ConfigIssue[];
  } = {},
): MethodPlugin<{ password: string }> {
  const minimal = minimalMethod();
  return {
    ...minimal,
    configSchema: broken.configSchema ?? minimal.configSchema,
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
        findClientToken(tokenHash) {
          return tokenHash === hashClientToken(credentialBytes(config.password))
            ? { id: 'static', method: 'METHOD_TEST', metadata: { 'io.flipt.auth.name': 'static' } }
            : undefined;
        },
        identity: (authentication) => ({ user: authentication.id }),
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
      ['identity', 'no goodCredential fixture given'],
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
      /creating, using and closing the method left resources keeping the event loop alive: 1 × Timeout/,
    );
  });

  it('fails a method that leaves a timer behind for each credential it checks', async () => {
    const timers: NodeJS.Timeout[] = [];
    onTestFinished(() => {
      for (const timer of timers) clearInterval(timer);
    });
    const plugin = testMethod({
      instance: {
        async authenticate() {
          timers.push(setInterval(() => undefined, 60_000));
          return null;
        },
      },
    });
    await expect(methodCase(plugin, 'lifecycle:').run()).rejects.toThrow(
      /creating, using and closing the method left resources keeping the event loop alive: \d+ × Timeout/,
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

  it('fails a method whose create leaves a server that starts listening a tick later', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      // `listen` waits a tick for an address, and looks a name up first: the server exists only after close.
      const servers: Server[] = [];
      onTestFinished(() => {
        for (const server of servers) server.close();
      });
      const plugin = testMethod({ create: () => servers.push(createServer().listen(0, host)) });
      await expect(methodCase(plugin, 'lifecycle:').run(), host).rejects.toThrow(
        /creating, using and closing the method left resources keeping the event loop alive: 1 × TCPSERVERWRAP$/,
      );
    }
  });

  it('fails a method that lets the bad credential through the server', async () => {
    const plugin = testMethod({
      instance: { authenticate: async () => ({ id: 'anyone', method: 'METHOD_TEST', metadata: {} }) },
    });
    await expect(methodCase(plugin, 'bad credential: a 401').run()).rejects.toThrow(
      'the bad credential: expected 401, got 200',
    );
  });

  it('fails a method that refuses a bad credential with a code that is no refusal', async () => {
    const refusing = (code: string) =>
      testMethod({
        instance: {
          async authenticate(credential) {
            if (credential.value === PASSWORD) return { id: 'tester', method: 'METHOD_TEST', metadata: {} };
            throw new PluginError(code as 'ERR_UNAUTHENTICATED', 'no');
          },
        },
      });
    await expect(methodCase(refusing('ERR_INTERNAL'), 'bad credential: authenticate').run()).rejects.toThrow(
      'authenticate(bad) rejected with ERR_INTERNAL, not a refusal (ERR_UNAUTHENTICATED, ERR_PERMISSION_DENIED, or a JOSE ERR_JW*/ERR_JOSE_* code)',
    );
    for (const code of [
      'ERR_PERMISSION_DENIED',
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      'ERR_JOSE_ALG_NOT_ALLOWED',
    ]) {
      await methodCase(refusing(code), 'bad credential: authenticate').run();
    }
  });

  it('fails a method whose authenticate answers something that is neither null nor an authentication', async () => {
    const foreignUndefined = testMethod({
      instance: {
        async authenticate(credential) {
          if (credential.value.startsWith('foreign-')) return undefined as unknown as null;
          return { id: 'tester', method: 'METHOD_TEST', metadata: {} };
        },
      },
    });
    await expect(methodCase(foreignUndefined, 'foreign credential: authenticate').run()).rejects.toThrow(
      'authenticate(foreign) answered undefined, not an authentication (or null)',
    );
    // Right the first time (the server's request), junk once cached: the cache keeps its own entry, not the answer.
    const cached = testMethod({
      instance: {
        async authenticate(credential) {
          if (credential.value !== PASSWORD) throw new PluginError('ERR_UNAUTHENTICATED', 'wrong password');
          const authentication = { id: 'tester', method: 'METHOD_TEST', metadata: {} };
          if (seen.has(credential.value)) return { authentication, at: 1 } as unknown as Authentication;
          seen.add(credential.value);
          return authentication;
        },
      },
    });
    const seen = new Set<string>();
    await expect(methodCase(cached, 'good credential:').run()).rejects.toThrow(
      'authenticate(good) answered an authentication without a string id',
    );
  });

  it('fails a method whose identity hook throws or answers anything but { user?, email? } of strings', async () => {
    const identifying = (identity: MethodInstance['identity']) => testMethod({ instance: { identity } });
    const identityCase = (identity: MethodInstance['identity']) =>
      methodCase(identifying(identity), 'identity:');
    await expect(
      identityCase(() => {
        throw new Error('no metadata');
      }).run(),
    ).rejects.toThrow('identity threw: no metadata');
    await expect(identityCase(() => undefined as never).run()).rejects.toThrow(
      'identity answered undefined, not { user?, email? }',
    );
    await expect(identityCase(() => ({ user: 'tester', email: 42 as never })).run()).rejects.toThrow(
      'identity answered email: a number, not a string',
    );
    await identityCase(() => ({})).run();
    await expect(
      methodCase(testMethod({ instance: { identity: undefined } }), 'identity:').run(),
    ).rejects.toThrow('skipped: the method has no identity hook');
  });

  it('skips the references case for a method with no text setting, rather than fail it', async () => {
    const untexted = {
      ...minimalMethod(),
      configSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { enabled: { type: 'boolean' } },
      },
    };
    const [validate] = methodPluginCases(untexted as never, { config: {} }).filter((c) =>
      c.name.startsWith('validate:'),
    );
    await expect(validate?.run()).rejects.toThrow(
      'skipped: the block has no text setting to hold a reference',
    );
    const [given] = methodPluginCases(untexted as never, { config: {}, configWithReferences: {} }).filter(
      (c) => c.name.startsWith('validate:'),
    );
    await expect(given?.run()).rejects.toThrow(
      'skipped: configWithReferences holds no ${secret:…} reference',
    );
  });

  it('passes a method whose clientTokens authenticate as declared, and fails one whose own admit refuses them', async () => {
    const declared = [
      {
        credential: 'pässwörd-static',
        authentication: frozenAuthentication({ id: 'static', method: 'METHOD_TEST', metadata: {} }),
      },
    ];
    await methodCase(
      testMethod({ instance: { clientTokens: declared, findClientToken: undefined } }),
      'client tokens:',
    ).run();
    await expect(
      methodCase(
        testMethod({
          instance: {
            clientTokens: declared,
            admit() {
              throw new Error('not today');
            },
          },
        }),
        'client tokens:',
      ).run(),
    ).rejects.toThrow('clientTokens[0] did not authenticate as its declared authentication (not_admitted)');
  });

  it('fails a method whose findClientToken answers for an unknown token, or answers junk', async () => {
    const finding = (findClientToken: MethodInstance['findClientToken']) =>
      methodCase(testMethod({ instance: { findClientToken } }), 'client tokens:');
    await expect(
      finding(() => ({ id: 'anyone', method: 'METHOD_TEST', metadata: {} })).run(),
    ).rejects.toThrow(
      'findClientToken(the hash of a random token) answered an object, not undefined or null',
    );
    // null is not found, as undefined is.
    await finding(() => null).run();
    await expect(
      finding((tokenHash) =>
        tokenHash === hashClientToken(PASSWORD)
          ? ({ id: 'static', method: 'METHOD_TEST' } as never)
          : undefined,
      ).run(),
    ).rejects.toThrow(
      "findClientToken(the hash of the goodCredential's token) answered an authentication whose metadata is not an object of strings",
    );
    await expect(
      finding((tokenHash) => (tokenHash === hashClientToken(PASSWORD) ? (false as never) : undefined)).run(),
    ).rejects.toThrow(
      "findClientToken(the hash of the goodCredential's token) answered false, not undefined, null or an authentication",
    );
    await expect(
      finding(() => {
        throw new Error('store down');
      }).run(),
    ).rejects.toThrow('findClientToken(the hash of a random token) threw: store down');
    await expect(
      methodCase(testMethod({ instance: { findClientToken: undefined } }), 'client tokens:').run(),
    ).rejects.toThrow('skipped: the method has neither clientTokens nor a findClientToken hook');
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
    // Refused by the case, or by portcullis itself at start-up (it refuses dot segments too): named either way.
    await expect(methodCase(escaping, 'routes:').run()).rejects.toThrow(
      /\/auth\/v1\/method\/test\/\.\.\/\.\.\/\.\.\/\.\.\/admin/,
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

/** `node --test` (TAP) of a script in test-support/, killed after `timeout` ms. */
const nodeTest = (script: string, timeout: number) =>
  spawnSync(
    process.execPath,
    [
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      '--test',
      '--test-reporter=tap',
      join(import.meta.dirname, 'test-support', script),
    ],
    { encoding: 'utf8', timeout, killSignal: 'SIGKILL' },
  );

describe('the node:test adapter', () => {
  it('runs cases as tests and reports skipped ones with their reason', () => {
    const run = nodeTest('node-test-run.ts', 60_000);
    expect(run.stdout).toMatch(/ok \d+ - contract: the plugin meets the contract/);
    expect(run.stdout).toMatch(/ok \d+ - good credential: .* # SKIP no goodCredential fixture given/);
    expect(run.stdout).toMatch(
      /ok \d+ - bad credential: authenticate .* # SKIP the method owns no Authorization scheme/,
    );
    expect(run.stdout).toMatch(/ok \d+ - identity: .* # SKIP no goodCredential fixture given/);
    expect(run.stdout).toMatch(
      /ok \d+ - client tokens: .* # SKIP the method has neither clientTokens nor a findClientToken hook/,
    );
    expect(run.stdout).toContain('# pass 9');
    expect(run.stdout).toContain('# skipped 6');
    expect(run.stdout).toContain('# fail 0');
  });

  it('ends a run whose method leaks, and reports the failure', () => {
    // The leaked interval and server are ref'd: left so, `node --test` would wait for them for ever.
    const run = nodeTest('node-test-leak.ts', 15_000);
    expect(run.signal, 'the run was killed after 15 s: it did not end').toBeNull();
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(
      /not ok \d+ - lifecycle: create, checking the text credentials, then close leave no new timers/,
    );
    expect(run.stdout).toMatch(
      /left resources keeping the event loop alive: (1 × Timeout, 1 × TCPSERVERWRAP|1 × TCPSERVERWRAP, 1 × Timeout)/,
    );
    // The lifecycle case, and no other: the rest pass or are skipped for want of fixtures.
    expect(run.stdout).toContain('# fail 1');
  });
});
