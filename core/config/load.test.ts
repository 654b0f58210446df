import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ErrorCodes, formatIssue, PluginError, type PortcullisError } from '../errors.ts';
import { createRegistry } from '../plugins/builtins.ts';
import { tempFiles } from '../test-support/tmp.ts';
import { type LoadOptions, loadConfig, MAX_CONFIG_BYTES } from './load.ts';

async function problems(options: LoadOptions): Promise<string[]> {
  const error = await loadConfig(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error.issues.map(formatIssue);
}

const MAGIC_PLUGIN = `
export default {
  kind: 'method', apiVersion: '^1.0.0',
  name: 'magic',
  method: 'METHOD_MAGIC',
  sessionCompatible: false,
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { spell: { type: 'string', minLength: 3 }, level: { type: 'integer', default: 1 } },
  },
  validate(config) {
    return config.spell === 'avada' ? [{ path: ['spell'], message: 'that spell is forbidden' }] : [];
  },
  create() {
    return {};
  },
};
`;

describe('loadConfig', () => {
  it('applies every schema default and turns durations into milliseconds', async () => {
    const { config } = await loadConfig({ object: {}, env: {} });
    expect(config.authentication.required).toBe(false);
    expect(config.authentication.session.token_lifetime).toBe(24 * 3600_000);
    expect(config.authentication.session.state_lifetime).toBe(600_000);
    expect(config.authentication.session.storage).toMatchObject({
      type: 'memory',
      cleanup: { grace_period: 1_800_000, interval: 3_600_000 },
      redis: { mode: 'single', host: 'localhost', port: 6379, prefix: 'flipt' },
    });
    expect(config.authentication.methods.kubernetes).toMatchObject({
      enabled: false,
      discovery_url: 'https://kubernetes.default.svc.cluster.local',
    });
    expect(config.secrets.providers.file).toEqual({ enabled: false, base_path: '/etc/flipt/secrets' });
    expect(config.secrets.providers.vault).toMatchObject({ auth_method: 'token', mount: 'secret' });
    expect(config.server).toMatchObject({ host: '0.0.0.0', http_port: 8080, protocol: 'http' });
    expect(config.version).toBe('2.0');
  });

  it('uses Flipt defaults with a warning when no file exists, and refuses a named file that does not', async () => {
    const dir = tempFiles({});
    const loaded = await loadConfig({
      cwd: dir,
      searchPaths: ['config.yaml', join(dir, 'nope.yml')],
      env: {},
    });
    expect(loaded.file).toBeUndefined();
    expect(loaded.warnings.map(formatIssue)).toEqual(['(root): no configuration file found; using defaults']);

    const error = (await loadConfig({ file: 'missing.yaml', cwd: dir }).catch(
      (e: unknown) => e,
    )) as PortcullisError;
    expect(error.code).toBe(ErrorCodes.CONFIG_NOT_FOUND);
    expect(error.message).toBe('configuration file missing.yaml does not exist');
  });

  it('finds ./config.yaml before the system path, and reads JSON too', async () => {
    const dir = tempFiles({
      'config.yaml': 'authentication: {required: true}\n',
      'other.json': '{"log": {"level": "debug"}}',
    });
    expect((await loadConfig({ cwd: dir, env: {} })).config.authentication.required).toBe(true);
    expect((await loadConfig({ cwd: dir, file: 'other.json', env: {} })).config.log.level).toBe('debug');
    const toml = tempFiles({ 'config.toml': 'x = 1' });
    const error = (await loadConfig({ cwd: toml, file: 'config.toml' }).catch(
      (e: unknown) => e,
    )) as PortcullisError;
    expect(error.code).toBe(ErrorCodes.CONFIG_READ);
  });

  it(`reads at most ${MAX_CONFIG_BYTES / 1024 / 1024} MiB of a configuration file, whatever its size says`, async () => {
    const dir = tempFiles({ 'exact.yaml': '', 'over.yaml': '' });
    // A file of exactly the limit is read (a comment pads it); one byte more is refused before it is parsed.
    writeFileSync(join(dir, 'exact.yaml'), `log: {level: debug}\n#${'x'.repeat(MAX_CONFIG_BYTES - 22)}\n`);
    expect((await loadConfig({ cwd: dir, file: 'exact.yaml', env: {} })).config.log.level).toBe('debug');
    writeFileSync(join(dir, 'over.yaml'), `log: {level: debug}\n#${'x'.repeat(MAX_CONFIG_BYTES - 21)}\n`);
    const limit = `the file is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB, the most portcullis reads`;
    const over = (await loadConfig({ cwd: dir, file: 'over.yaml', env: {} }).catch(
      (e: unknown) => e,
    )) as PortcullisError;
    expect(over.code).toBe(ErrorCodes.CONFIG_READ);
    expect(over.message).toBe(`cannot read configuration file ${join(dir, 'over.yaml')}: ${limit}`);
    // A device reports a size of 0 and never ends.
    const zero = (await loadConfig({ file: '/dev/zero', env: {} }).catch(
      (e: unknown) => e,
    )) as PortcullisError;
    expect(zero.code).toBe(ErrorCodes.CONFIG_READ);
    expect(zero.message).toBe(`cannot read configuration file /dev/zero: ${limit}`);
  });

  it('says which environment variable set a bad value, or which ${env:...} it came from, never the value', async () => {
    const dir = tempFiles({ 'config.yaml': 'authentication:\n  required: ${env:REQUIRED}\n' });
    expect(
      await problems({
        cwd: dir,
        file: 'config.yaml',
        env: { REQUIRED: 'sometimes', FLIPT_SERVER_HTTP_PORT: 'eighty' },
      }),
    ).toEqual([
      'authentication.required (2:13): must be a boolean (true or false); got the value of ${env:REQUIRED} (9 characters)',
      'server.http_port (env FLIPT_SERVER_HTTP_PORT): must be an integer; got the value of FLIPT_SERVER_HTTP_PORT (6 characters)',
    ]);
  });

  it('lets FLIPT_* variables complete a configuration, as operators do with secrets', async () => {
    const dir = tempFiles({
      'config.yaml': [
        'authentication:',
        '  methods:',
        '    github:',
        '      enabled: true',
        '      redirect_address: https://flipt.example.com',
        '',
      ].join('\n'),
    });
    const env = {
      FLIPT_AUTHENTICATION_METHODS_GITHUB_CLIENT_ID: 'id',
      FLIPT_AUTHENTICATION_METHODS_GITHUB_CLIENT_SECRET: 'secret',
      FLIPT_AUTHENTICATION_METHODS_GITHUB_SCOPES: 'read:org user:email',
    };
    const { config } = await loadConfig({ cwd: dir, file: 'config.yaml', env });
    expect(config.authentication.methods.github).toMatchObject({
      client_id: 'id',
      client_secret: 'secret',
      scopes: ['read:org', 'user:email'],
    });
    expect(config.authentication.session.domain).toBe('flipt.example.com');
  });

  it('normalises the session domain as Flipt does', async () => {
    const { config, warnings } = await loadConfig({
      object: {
        authentication: {
          session: { domain: 'http://localhost:8080' },
          methods: { oidc: { enabled: true } },
        },
      },
      env: {},
    });
    expect(config.authentication.session.domain).toBe('localhost');
    expect(warnings).toEqual([]);
  });

  it('reads session.cleanup as an alias and locates its problems where they were written', async () => {
    const dir = tempFiles({
      'config.yaml': 'authentication:\n  session:\n    cleanup:\n      grace_period: -1h\n',
    });
    expect(await problems({ cwd: dir, file: 'config.yaml', env: {} })).toEqual([
      'authentication.session.storage.cleanup.grace_period (4:7): authentication: session_storage cleanup_grace_period must be a positive duration; got -1h0m0s',
    ]);
    const ok = tempFiles({
      'config.yaml': 'authentication:\n  session:\n    cleanup:\n      grace_period: 2h\n',
    });
    const { config } = await loadConfig({ cwd: ok, file: 'config.yaml', env: {} });
    expect(config.authentication.session.storage.cleanup).toEqual({
      grace_period: 7_200_000,
      interval: 3_600_000,
    });
    expect('cleanup' in config.authentication.session).toBe(false);
  });

  it('reports schema, core and plugin problems together, in file order', async () => {
    const dir = tempFiles({
      'config.yaml': [
        'authentication:',
        '  session:',
        '    token_lifetime: soon',
        '  methods:',
        '    jwt:',
        '      enabled: true',
        'authorization:',
        '  required: true',
        '',
      ].join('\n'),
    });
    expect(await problems({ cwd: dir, file: 'config.yaml', env: {} })).toEqual([
      'authentication.session.token_lifetime (3:21): must be a duration such as 30s, 15m, 1h30m or 500ms; got "soon"',
      'authentication.methods.jwt (5:5): authentication: one of jwks_url or public_key_file is required',
      'authorization.required (8:3): authorization: requires authentication to also be required',
    ]);
  });

  it('imports only the plugins that are enabled', async () => {
    const registry = createRegistry();
    await loadConfig({
      object: { authentication: { methods: { token: { enabled: true }, oidc: { enabled: false } } } },
      registry,
      env: {},
    });
    expect(registry.isLoaded('method', 'token')).toBe(true);
    for (const name of ['oidc', 'github', 'kubernetes', 'jwt'])
      expect(registry.isLoaded('method', name)).toBe(false);
    for (const name of ['file', 'vault', 'aws', 'gcp', 'azure'])
      expect(registry.isLoaded('secrets', name)).toBe(false);
  });

  it('lists the well-formed references to resolve, and warns about those whose provider is off', async () => {
    const loaded = await loadConfig({
      object: {
        secrets: { providers: { file: { enabled: true, base_path: '/run/secrets' } } },
        authentication: {
          session: {
            csrf: { key: '${secret:file:csrf}' },
            storage: { redis: { password: '${secret:vault:redis:pw}' } },
          },
        },
      },
      env: {},
    });
    expect(loaded.references.map((r) => r.path)).toEqual([
      ['authentication', 'session', 'csrf', 'key'],
      ['authentication', 'session', 'storage', 'redis', 'password'],
    ]);
    expect(loaded.warnings.map((w) => w.message)).toEqual([
      'secret reference "${secret:vault:redis:pw}" needs secrets.providers.vault.enabled: true; serve stops until it is enabled',
    ]);
  });
});

describe('third-party plugins', () => {
  it('contribute their schema, defaults and rules; their config is validated like a built-in one', async () => {
    const dir = tempFiles({
      'plugins/magic.mjs': MAGIC_PLUGIN,
      'config.yaml':
        'plugins: [./plugins/magic.mjs]\nauthentication:\n  methods:\n    magic:\n      enabled: true\n      spell: lumos\n',
    });
    const { config, schema } = await loadConfig({ cwd: dir, file: 'config.yaml', env: {} });
    expect(config.authentication.methods.magic).toEqual({ enabled: true, spell: 'lumos', level: 1 });
    expect(JSON.stringify(schema)).toContain('"spell"');

    const bad = tempFiles({
      'magic.mjs': MAGIC_PLUGIN,
      'config.yaml': [
        'plugins: [./magic.mjs]',
        'authentication:',
        '  methods:',
        '    magic:',
        '      enabled: true',
        '      spell: ab',
        '      wand: elder',
        '',
      ].join('\n'),
    });
    expect(await problems({ cwd: bad, file: 'config.yaml', env: {} })).toEqual([
      'authentication.methods.magic.spell (6:14): must be at least 3 characters long; got "ab"',
      'authentication.methods.magic.wand (7:7): unknown key "wand"; expected one of: enabled, spell, level',
    ]);
    const forbidden = tempFiles({
      'magic.mjs': MAGIC_PLUGIN,
      'config.yaml':
        'plugins: [./magic.mjs]\nauthentication:\n  methods:\n    magic: {enabled: true, spell: avada}\n',
    });
    expect(await problems({ cwd: forbidden, file: 'config.yaml', env: {} })).toEqual([
      'authentication.methods.magic.spell (4:28): that spell is forbidden',
    ]);
  });

  it('are refused when they claim the method enum or number of another plugin', async () => {
    const dir = tempFiles({
      'token-method.mjs': MAGIC_PLUGIN.replace("method: 'METHOD_MAGIC'", "method: 'METHOD_TOKEN'"),
      'number.mjs': MAGIC_PLUGIN.replace("name: 'magic'", "name: 'other'").replace(
        "method: 'METHOD_MAGIC'",
        "method: 'METHOD_OTHER', methodNumber: 2",
      ),
      'twin.mjs': MAGIC_PLUGIN.replace("name: 'magic'", "name: 'twin'"),
      'config.yaml': 'plugins:\n  - ./token-method.mjs\n  - ./number.mjs\n  - ./twin.mjs\n',
    });
    expect(await problems({ cwd: dir, file: 'config.yaml', env: {} })).toEqual([
      'plugins[0] (2:5): plugin "magic" from "./token-method.mjs": method "METHOD_TOKEN" is already that of the plugin "token"; each method needs its own',
      'plugins[1] (3:5): plugin "other" from "./number.mjs": methodNumber 2 is already that of the plugin "oidc"; each method needs its own',
    ]);
    // Two third-party methods with one enum: the second listed is refused.
    const again = tempFiles({
      'magic.mjs': MAGIC_PLUGIN,
      'twin.mjs': MAGIC_PLUGIN.replace("name: 'magic'", "name: 'twin'"),
      'config.yaml': 'plugins: [./magic.mjs, ./twin.mjs]\n',
    });
    expect(await problems({ cwd: again, file: 'config.yaml', env: {} })).toEqual([
      'plugins[1] (1:24): plugin "twin" from "./twin.mjs": method "METHOD_MAGIC" is already that of the plugin "magic"; each method needs its own',
    ]);
  });

  it('are refused clearly when missing, empty, malformed, or taking a name already registered', async () => {
    const dir = tempFiles({
      'empty.mjs': 'export const nothing = 1;\n',
      'token.mjs': MAGIC_PLUGIN.replace("name: 'magic'", "name: 'token'"),
      'open.mjs': MAGIC_PLUGIN.replace('additionalProperties: false,', ''),
      'bad-schema.mjs': MAGIC_PLUGIN.replace("type: 'integer'", "type: 'integr'"),
      'config.yaml': [
        'plugins:',
        '  - ./missing.mjs',
        '  - ./empty.mjs',
        '  - ./token.mjs',
        '  - ./open.mjs',
        '  - ./bad-schema.mjs',
        '  - portcullis-plugin-that-does-not-exist',
        '',
      ].join('\n'),
    });
    const lines = await problems({ cwd: dir, file: 'config.yaml', env: {} });
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^plugins\[0\] \(2:5\): cannot import plugin module "\.\/missing\.mjs": /);
    expect(lines[1]).toBe(
      'plugins[1] (3:5): plugin module "./empty.mjs" exports no plugin: its default export must be a plugin object (kind, name, configSchema, create) or an array of them',
    );
    expect(lines[2]).toBe(
      'plugins[2] (4:5): authentication method "token" from "./token.mjs" is already registered by the built-in plugin',
    );
    expect(lines[3]).toBe(
      'plugins[3] (5:5): plugin "magic" from "./open.mjs": configSchema must be a closed object schema (type: "object", additionalProperties: false)',
    );
    expect(lines[4]).toMatch(
      /^plugins\[4\] \(6:5\): plugin "magic" from "\.\/bad-schema\.mjs": configSchema is not a valid JSON Schema: /,
    );
    expect(lines[5]).toMatch(
      /^plugins\[5\] \(7:5\): cannot import plugin module "portcullis-plugin-that-does-not-exist": /,
    );
  });

  it('have what they throw wrapped with their name', async () => {
    const dir = tempFiles({
      'boom.mjs': MAGIC_PLUGIN.replace(
        "return config.spell === 'avada'",
        "throw new Error('the wand snapped'); return config.spell === 'avada'",
      ),
      'config.yaml': 'plugins: [./boom.mjs]\nauthentication: {methods: {magic: {enabled: true}}}\n',
    });
    const error = await loadConfig({ cwd: dir, file: 'config.yaml', env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect((error as PluginError).plugin).toBe('magic');
    expect((error as PluginError).message).toBe('plugin "magic" failed in validate: the wand snapped');
  });
});

describe('loadConfig edge cases', () => {
  it('ignores empty FLIPT_* variables, as viper does, and reads an unset ${env:...} in a typed setting as unset', async () => {
    const dir = tempFiles({
      'config.yaml': [
        'authentication:',
        '  required: ${env:REQUIRED}',
        '  session:',
        '    domain: file.example.com',
        '    token_lifetime: ${env:LIFETIME}',
        '    csrf:',
        '      trusted_origins: ${env:ORIGINS}',
        'server:',
        '  http_port: ${env:PORT}',
        '',
      ].join('\n'),
    });
    const { config } = await loadConfig({
      cwd: dir,
      file: 'config.yaml',
      env: { FLIPT_AUTHENTICATION_SESSION_DOMAIN: '', FLIPT_SERVER_HOST: '' },
    });
    expect(config.authentication.required).toBe(false);
    expect(config.authentication.session.domain).toBe('file.example.com');
    expect(config.authentication.session.token_lifetime).toBe(24 * 3_600_000);
    expect(config.authentication.session.csrf.trusted_origins).toEqual([]);
    expect(config.server).toMatchObject({ http_port: 8080, host: '0.0.0.0' });
  });

  it('refuses __proto__ keys however they arrive, and never touches the global prototype', async () => {
    const dir = tempFiles({
      'config.yaml':
        'authentication:\n  methods:\n    token:\n      storage:\n        tokens:\n          __proto__:\n            credential: x\n',
    });
    expect(await problems({ cwd: dir, file: 'config.yaml', env: {} })).toEqual([
      'authentication.methods.token.storage.tokens.__proto__ (6:11): the key "__proto__" is not allowed',
    ]);
    // From a variable, as from a file: refused where it was set, never dropped in silence.
    expect(
      await problems({
        object: {},
        env: {
          FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS___PROTO___CREDENTIAL: 'polluted',
          FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_CI_METADATA___PROTO__: 'polluted',
          FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_CI_CREDENTIAL: 'kept',
        },
      }),
    ).toEqual([
      'authentication.methods.token.storage.tokens.ci.metadata.__proto__ (env FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_CI_METADATA___PROTO__): the key "__proto__" is not allowed',
      'authentication.methods.token.storage.tokens.__proto__ (env FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS___PROTO___CREDENTIAL): the key "__proto__" is not allowed',
    ]);
    const object = JSON.parse('{"authentication": {"__proto__": {"required": true}}}') as Record<
      string,
      unknown
    >;
    expect(await problems({ object, env: {} })).toEqual([
      'authentication.__proto__: the key "__proto__" is not allowed',
    ]);
    expect(({} as Record<string, unknown>).credential).toBeUndefined();
    expect(({} as Record<string, unknown>).required).toBeUndefined();
  });

  it('refuses a recursive alias instead of recursing for ever', async () => {
    const dir = tempFiles({ 'config.yaml': 'log: &a\n  keys: *a\n' });
    expect(await problems({ cwd: dir, file: 'config.yaml', env: {} })).toEqual([
      'log.keys (2:3): a value may not contain itself (recursive alias)',
    ]);
  });

  it('still runs the rules of a method whose block has a schema error, so every problem is reported', async () => {
    const dir = tempFiles({
      'config.yaml': [
        'authentication:',
        '  methods:',
        '    oidc:',
        '      enabled: true',
        '      providers:',
        '        a:',
        '          client_id: a',
        '          scopes: 5',
        '        b:',
        '          issuer_url: https://b.example.com',
        '',
      ].join('\n'),
    });
    expect(await problems({ cwd: dir, file: 'config.yaml', env: {} })).toEqual([
      'authentication.session.domain (1:1): authentication: session_domain non-empty value is required',
      'authentication.methods.oidc.providers.a.issuer_url (6:9): authentication: issuer_url non-empty value is required',
      'authentication.methods.oidc.providers.a.client_secret (6:9): authentication: client_secret non-empty value is required',
      'authentication.methods.oidc.providers.a.redirect_address (6:9): authentication: redirect_address non-empty value is required',
      'authentication.methods.oidc.providers.a.scopes (8:19): must be a list; got 5',
      'authentication.methods.oidc.providers.b.client_id (9:9): authentication: client_id non-empty value is required',
      'authentication.methods.oidc.providers.b.client_secret (9:9): authentication: client_secret non-empty value is required',
      'authentication.methods.oidc.providers.b.redirect_address (9:9): authentication: redirect_address non-empty value is required',
    ]);
  });

  it('resolves references only where portcullis uses the value', async () => {
    const loaded = await loadConfig({
      object: {
        credentials: { git: { basic: { password: '${secret:vault:git:password}' } } },
        authentication: {
          methods: {
            token: {
              enabled: true,
              storage: {
                tokens: { ci: { credential: 'x', metadata: { note: '${secret:vault:not:resolved}' } } },
              },
            },
          },
        },
      },
      env: {},
    });
    expect(loaded.references).toEqual([]);
    expect(loaded.warnings.map((w) => w.message)).toEqual([
      'Flipt section "credentials" is not used by portcullis; accepted and ignored',
    ]);
    expect(loaded.config.authentication.methods.token?.storage).toMatchObject({
      tokens: { ci: { metadata: { note: '${secret:vault:not:resolved}' } } },
    });
    expect(await problems({ object: { log: { file: '${secret:file:log-path}' } }, env: {} })).toEqual([
      'log.file: secret references cannot be used under log: (write the value, or ${env:...})',
    ]);
  });

  it('applies FLIPT_AUTHORIZATION_REQUIRED to the rule that needs authentication too', async () => {
    expect(await problems({ object: {}, env: { FLIPT_AUTHORIZATION_REQUIRED: 'true' } })).toEqual([
      'authorization.required (env FLIPT_AUTHORIZATION_REQUIRED): authorization: requires authentication to also be required',
    ]);
  });

  it("gives an allowed_teams key the case of the organisation it names, as Flipt's fix-up does", async () => {
    const { config } = await loadConfig({
      object: {
        authentication: {
          methods: {
            github: {
              enabled: true,
              client_id: 'a',
              client_secret: 'b',
              redirect_address: 'https://flipt.example.com',
              scopes: ['read:org'],
              allowed_organizations: ['MyOrg'],
            },
          },
        },
      },
      env: { FLIPT_AUTHENTICATION_METHODS_GITHUB_ALLOWED_TEAMS_MYORG: 'sre release' },
    });
    expect(config.authentication.methods.github?.allowed_teams).toEqual({ MyOrg: ['sre', 'release'] });
  });
});

describe('third-party plugins (more)', () => {
  it('are found when a package is ESM only, and through FLIPT_PLUGINS', async () => {
    const dir = tempFiles({
      'node_modules/esm-only-plugin/package.json': JSON.stringify({
        name: 'esm-only-plugin',
        type: 'module',
        exports: { '.': { import: './dist/index.js' } },
      }),
      'node_modules/esm-only-plugin/dist/index.js': MAGIC_PLUGIN,
      'config.yaml':
        'plugins: [esm-only-plugin]\nauthentication: {methods: {magic: {enabled: true, spell: lumos}}}\n',
      'from-env.yaml': 'authentication: {methods: {magic: {enabled: true, spell: nox}}}\n',
    });
    const { config } = await loadConfig({ cwd: dir, file: 'config.yaml', env: {} });
    expect(config.authentication.methods.magic).toMatchObject({ enabled: true, spell: 'lumos' });
    const viaEnv = await loadConfig({
      cwd: dir,
      file: 'from-env.yaml',
      env: { FLIPT_PLUGINS: 'esm-only-plugin' },
    });
    expect(viaEnv.config.authentication.methods.magic).toMatchObject({ spell: 'nox' });
    const missing = await problems({
      cwd: dir,
      file: 'from-env.yaml',
      env: { FLIPT_PLUGINS: './nowhere.mjs' },
    });
    expect(missing[0]).toMatch(/^plugins\[0\] \(env FLIPT_PLUGINS\): cannot import plugin module/);
  });

  it('must return issues in the shape of the contract', async () => {
    const dir = tempFiles({
      'odd.mjs': MAGIC_PLUGIN.replace(
        "return config.spell === 'avada' ? [{ path: ['spell'], message: 'that spell is forbidden' }] : [];",
        "return [{ message: 'no path' }];",
      ),
      'config.yaml': 'plugins: [./odd.mjs]\nauthentication: {methods: {magic: {enabled: true}}}\n',
    });
    await expect(loadConfig({ cwd: dir, file: 'config.yaml', env: {} })).rejects.toMatchObject({
      plugin: 'magic',
      message:
        'plugin "magic" failed in validate: it must return an array of { path: [...], message: "..." }',
    });
  });
});
