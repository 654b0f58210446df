import { describe, expect, it } from 'vitest';
import { ErrorCodes, PluginError } from '../errors.ts';
import { BUILTIN_PLUGINS, createRegistry } from './builtins.ts';
import type { MethodPlugin } from './contracts.ts';
import { guard, guardCreate, guardSync } from './guard.ts';
import { defineMethod, defineSecretProvider } from './kit/define.ts';
import { KIT_API_VERSION } from './kit/version.ts';
import { assertPlugin, PluginRegistry } from './registry.ts';

const plugin: MethodPlugin<{ enabled: boolean }> = {
  kind: 'method',
  apiVersion: '^1.0.0',
  name: 'magic',
  method: 'METHOD_MAGIC',
  sessionCompatible: false,
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  create: () => ({}),
};

describe('PluginRegistry', () => {
  it('holds the built-ins in Flipt order, names sorted for messages', () => {
    const registry = createRegistry();
    expect(registry.entries('method').map((e) => e.name)).toEqual([
      'token',
      'github',
      'oidc',
      'kubernetes',
      'jwt',
    ]);
    expect(registry.names('secrets')).toEqual(['aws', 'azure', 'file', 'gcp', 'vault']);
  });

  it('imports a plugin once, when first asked for, and checks it is what was registered', async () => {
    const registry = createRegistry();
    expect(registry.isLoaded('method', 'oidc')).toBe(false);
    const first = registry.method('oidc');
    expect(registry.isLoaded('method', 'oidc')).toBe(true);
    expect(await first).toBe(await registry.method('oidc'));
    expect((await first).method).toBe('METHOD_OIDC');
  });

  it('every built-in entry matches the plugin its code exports', async () => {
    const registry = createRegistry();
    for (const entry of BUILTIN_PLUGINS) {
      const loaded =
        entry.kind === 'method' ? await registry.method(entry.name) : await registry.provider(entry.name);
      expect(loaded.configSchema).toEqual(entry.configSchema);
    }
  });

  it('refuses a taken name, and an entry whose code is another plugin', async () => {
    const registry = createRegistry();
    const conflict = () =>
      registry.register({
        kind: 'method',
        name: 'oidc',
        configSchema: {},
        origin: '"x"',
        load: async () => plugin,
      });
    expect(conflict).toThrow(PluginError);
    expect(conflict).toThrow(
      'authentication method "oidc" from "x" is already registered by the built-in plugin',
    );

    const liar = new PluginRegistry();
    liar.register({
      kind: 'method',
      name: 'other',
      configSchema: {},
      origin: '"y"',
      load: async () => plugin,
    });
    await expect(liar.method('other')).rejects.toMatchObject({
      code: ErrorCodes.PLUGIN_INVALID,
      message: '"y" registered method "other" but its code is method "magic"',
    });
    await expect(liar.method('absent')).rejects.toMatchObject({ code: ErrorCodes.PLUGIN_LOAD });
  });

  it('wraps an import failure with the plugin name', async () => {
    const registry = new PluginRegistry();
    registry.register({
      kind: 'secrets',
      name: 'broken',
      configSchema: {},
      origin: '"z"',
      load: () => Promise.reject(new Error('module not found')),
    });
    await expect(registry.provider('broken')).rejects.toMatchObject({
      plugin: 'broken',
      message: 'secret provider "broken" could not be loaded: module not found',
    });
  });
});

describe('assertPlugin', () => {
  const invalid: Array<[unknown, string]> = [
    [null, 'is not a plugin object'],
    [{ ...plugin, kind: 'auth' }, 'kind must be "method" or "secrets"'],
    [{ ...plugin, name: 'has space' }, 'name must be letters, digits, "_" or "-"'],
    [{ ...plugin, configSchema: [] }, 'configSchema must be a JSON Schema object'],
    [{ ...plugin, configSchema: { type: 'object' } }, 'configSchema must be a closed object schema'],
    [{ ...plugin, create: 'no' }, 'create must be a function'],
    [{ ...plugin, validate: 1 }, 'validate must be a function when present'],
    [{ ...plugin, method: '' }, 'method must be an API enum name'],
    [{ ...plugin, method: 'METHOD_X\r\nX-Injected: 1' }, 'method must be an API enum name'],
    [{ ...plugin, method: 'magic' }, 'method must be an API enum name'],
    [{ ...plugin, sessionCompatible: 'yes' }, 'sessionCompatible must be a boolean'],
    [{ ...plugin, apiVersion: undefined }, 'apiVersion must be a semver range of the plugin kit'],
    [{ ...plugin, apiVersion: 'one' }, 'apiVersion must be a semver range of the plugin kit'],
    [{ ...plugin, methodNumber: 0 }, 'methodNumber must be a positive integer when present'],
    [{ ...plugin, methodNumber: 2.5 }, 'methodNumber must be a positive integer when present'],
    [{ ...plugin, info: {} }, 'info must be a function when present'],
  ];
  it.each(invalid)('refuses %j', (value, message) => {
    expect(() => assertPlugin(value, '"mod"')).toThrow(message);
  });

  it('refuses a plugin written for another version of the kit, naming both versions', () => {
    for (const [apiVersion, advice] of [
      ['^2.0.0', 'upgrade portcullis'],
      ['^0.9.0', 'use a version of the plugin written for this kit'],
      ['>=1.99.0 <2', 'use a version of the plugin written for this kit'],
    ] as const) {
      let error: unknown;
      try {
        assertPlugin({ ...plugin, apiVersion }, '"mod"');
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({
        code: ErrorCodes.PLUGIN_API_MISMATCH,
        plugin: 'magic',
        message: `plugin "magic" from "mod" was written for portcullis/plugin ${apiVersion}, but this portcullis provides portcullis/plugin ${KIT_API_VERSION}; ${advice}`,
      });
    }
    for (const apiVersion of ['^1.0.0', '1.x', `~${KIT_API_VERSION}`, '>=1.0.0']) {
      expect(assertPlugin({ ...plugin, apiVersion }, '"mod"')).toMatchObject({ apiVersion });
    }
  });

  it('fills in kind and this major through defineMethod and defineSecretProvider', () => {
    const { kind: _kind, apiVersion: _apiVersion, ...definition } = plugin;
    expect(defineMethod(definition)).toEqual({ ...plugin, apiVersion: `^${KIT_API_VERSION}` });
    const provider = defineSecretProvider({
      name: 'kv',
      configSchema: plugin.configSchema,
      create: () => ({ get: async () => '' }),
    });
    expect(assertPlugin(provider, '"mod"')).toMatchObject({
      kind: 'secrets',
      apiVersion: `^${KIT_API_VERSION}`,
    });
    // An author may still pin a range of their own.
    expect(defineMethod({ ...definition, apiVersion: '^1.2.0' }).apiVersion).toBe('^1.2.0');
  });

  it('accepts a secret provider, which has no method fields', () => {
    const provider = {
      kind: 'secrets',
      apiVersion: '^1.0.0',
      name: 'kv',
      configSchema: plugin.configSchema,
      create: () => ({}),
    };
    expect(assertPlugin(provider, '"mod"')).toBe(provider);
  });
});

describe('guard', () => {
  it('names the plugin and the hook in what a plugin throws', async () => {
    expect(() =>
      guardSync('magic', 'validate', () => {
        throw new TypeError('undefined is not a function');
      }),
    ).toThrow('plugin "magic" failed in validate: undefined is not a function');
    await expect(guard('magic', 'create', () => Promise.reject('a string'))).rejects.toMatchObject({
      code: ErrorCodes.PLUGIN_FAILED,
      plugin: 'magic',
      message: 'plugin "magic" failed in create: a string',
    });
    expect(await guard('magic', 'close', () => 42)).toBe(42);
  });
});

describe('guardCreate', () => {
  it('gives up on a create that never settles, naming the plugin, and closes what comes late', async () => {
    await expect(guardCreate('stuck', 50, () => new Promise<never>(() => {}))).rejects.toMatchObject({
      code: ErrorCodes.PLUGIN_FAILED,
      plugin: 'stuck',
      message: 'plugin "stuck" failed in create: it did not finish within 0.05 s',
    });
    let closed = false;
    const late = guardCreate(
      'slow',
      20,
      () =>
        new Promise<{ close(): void }>((resolve) =>
          setTimeout(
            () =>
              resolve({
                close() {
                  closed = true;
                },
              }),
            60,
          ),
        ),
    );
    await expect(late).rejects.toMatchObject({ code: ErrorCodes.PLUGIN_FAILED });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(closed).toBe(true);
    expect(await guardCreate('quick', 1000, () => ({ ready: true }))).toEqual({ ready: true });
  });
});
