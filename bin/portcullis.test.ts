import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliResult, runCli, startServe } from '../core/test-support/cli.ts';
import { tempFiles } from '../core/test-support/tmp.ts';

const examples = join(import.meta.dirname, '..', 'schema', 'examples');

describe('portcullis validate', () => {
  it('prints one line "valid" and exits 0 for a valid file, with warnings apart on stderr', async () => {
    const result = await runCli([
      'validate',
      '--config',
      join(examples, 'valid', 'seed-09-token-secret-file.yaml'),
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'valid\n' });
    expect(result.stderr).toContain(
      'warning: authentication.methods.token.storage.tokens.ci_token.credential (9:25)',
    );
  });

  it('prints one line per problem with its line and column, and exits 1', async () => {
    const result = await runCli([
      'validate',
      '--config',
      join(examples, 'invalid', 'three-unrelated-mistakes.yaml'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'server.http_port (4:14): must be an integer; got "8o80"',
      'authentication.session.storage.type (11:13): must be one of: memory, redis; got "reddis"',
      'authentication.methods.github.scopes (13:5): authentication: scopes must contain read:org when allowed_organizations is not empty',
    ]);
  });

  it('finds ./config.yaml when --config is not given, and says when a named file is missing', async () => {
    const dir = tempFiles({ 'config.yaml': 'authentication: {required: "nope"}\n' });
    const found = await runCli(['validate'], { cwd: dir });
    expect(found).toMatchObject({
      code: 1,
      stdout: 'authentication.required (1:28): must be a boolean (true or false); got "nope"\n',
    });
    const missing = await runCli(['validate', '--config', 'absent.yaml'], { cwd: dir });
    expect(missing).toMatchObject({ code: 1, stdout: 'configuration file absent.yaml does not exist\n' });
  });

  it('applies FLIPT_* variables', async () => {
    const dir = tempFiles({ 'config.yaml': 'authentication: {required: true}\n' });
    const result = await runCli(['validate'], {
      cwd: dir,
      env: { FLIPT_AUTHENTICATION_SESSION_TOKEN_LIFETIME: 'a day' },
    });
    expect(result).toMatchObject({
      code: 1,
      stdout:
        'authentication.session.token_lifetime (env FLIPT_AUTHENTICATION_SESSION_TOKEN_LIFETIME): must be a duration such as 30s, 15m, 1h30m or 500ms; got the value of FLIPT_AUTHENTICATION_SESSION_TOKEN_LIFETIME (5 characters)\n',
    });
  });
});

describe('portcullis schema', () => {
  const plugin = `export default {
  kind: 'method', apiVersion: '^1.0.0', name: 'magic', method: 'METHOD_MAGIC', sessionCompatible: false,
  configSchema: { type: 'object', additionalProperties: false, properties: { spell: { type: 'string', description: 'the incantation' } } },
  create() { return {}; },
};
`;

  it('prints the assembled schema, with the blocks of third-party plugins named in the config or with --plugin', async () => {
    const dir = tempFiles({ 'magic.mjs': plugin, 'config.yaml': 'plugins: [./magic.mjs]\n' });
    const builtIn = await runCli(['schema']);
    expect(builtIn.code).toBe(0);
    const schema = JSON.parse(builtIn.stdout);
    expect(Object.keys(schema.properties.authentication.properties.methods.properties)).toEqual([
      'token',
      'github',
      'oidc',
      'kubernetes',
      'jwt',
    ]);

    const withConfig = await runCli(['schema', '--config', join(dir, 'config.yaml')]);
    expect(withConfig.code).toBe(0);
    const methods = JSON.parse(withConfig.stdout).properties.authentication.properties.methods;
    expect(methods.properties.magic.properties.spell).toEqual({
      type: 'string',
      description: 'the incantation',
    });
    expect(methods['x-messages'].additionalProperties).toContain(
      'github, jwt, kubernetes, magic, oidc, token',
    );

    const withFlag = await runCli(['schema', '--plugin', join(dir, 'magic.mjs')]);
    expect(
      JSON.parse(withFlag.stdout).properties.authentication.properties.methods.properties.magic,
    ).toBeDefined();

    const missing = await runCli(['schema', '--plugin', './nowhere.mjs'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^cannot import plugin module "\.\/nowhere\.mjs"/);
  });

  it('validates a third-party plugin block through validate', async () => {
    const dir = tempFiles({
      'magic.mjs': plugin,
      'config.yaml':
        'plugins: [./magic.mjs]\nauthentication:\n  methods:\n    magic:\n      enabled: true\n      spell: 42\n      wand: x\n',
    });
    const result = await runCli(['validate', '--config', join(dir, 'config.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      'authentication.methods.magic.wand (7:7): unknown key "wand"; expected one of: enabled, spell\n',
    );
  });
});

describe('portcullis serve', () => {
  const config = (extra = '') =>
    `server:\n  host: 127.0.0.1\n  http_port: 0\nauthentication:\n  required: false\n${extra}`;

  it('answers /health, logs JSON, and exits 0 on SIGTERM and on SIGINT', async () => {
    const dir = tempFiles({ 'config.yaml': config() });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const served = await startServe(join(dir, 'config.yaml'));
      const response = await fetch(`${served.address}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'SERVING', store: 'ready' });
      const missing = await fetch(`${served.address}/nowhere`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ code: 5, message: 'Not Found', details: [] });
      const result = await served.stop(signal);
      expect(result.code).toBe(0);
      const lines = result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'shutting down', signal });
    }
  });

  it('stops with exit 1 naming a missing secret, and prints none of the resolved secret values', async () => {
    const secrets = {
      'secrets/csrf-key': 'csrf-value-7f3a9c\n',
      'secrets/redis.json': '{"password": "redis-value-1b2e8d"}\n',
      'secrets/vault-tls': 'vault-value-55aa01\n',
    };
    const dir = tempFiles(secrets);
    const yaml = [
      'server: {host: 127.0.0.1, http_port: 0}',
      'secrets:',
      '  providers:',
      '    file:',
      '      enabled: true',
      `      base_path: ${join(dir, 'secrets')}`,
      'authentication:',
      '  session:',
      '    csrf:',
      '      key: ${secret:file:csrf-key}',
      '      trusted_origins: ["${secret:file:vault-tls}"]',
      '    storage:',
      '      redis:',
      '        password: ${secret:file:redis.json:password}',
      '        username: ${secret:file:missing-user}',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'config.yaml'), yaml);
    const result: CliResult = await startServe(join(dir, 'config.yaml')).then(
      async (served) => served.stop(),
      (error: { result: CliResult }) => error.result,
    );
    expect(result.code).toBe(1);
    const output = result.stdout + result.stderr;
    expect(result.stderr).toContain(
      'resolving secret reference "${secret:file:missing-user}" (provider "file", at authentication.session.storage.redis.username): secret not found at path "missing-user"',
    );
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '')).toMatchObject({
      level: 'fatal',
      code: 'ERR_SECRET_RESOLUTION',
      failures: [{ reference: '${secret:file:missing-user}', provider: 'file' }],
    });
    for (const value of ['csrf-value-7f3a9c', 'redis-value-1b2e8d', 'vault-value-55aa01']) {
      expect(output).not.toContain(value);
    }
  });

  it('stops with exit 1 when a reference needs a provider that is not enabled', async () => {
    const dir = tempFiles({
      'config.yaml': config('  session:\n    csrf:\n      key: ${secret:file:csrf}\n'),
    });
    const result = await startServe(join(dir, 'config.yaml')).then(
      async (served) => served.stop(),
      (error: { result: CliResult }) => error.result,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('provider "file" not found (enable it under secrets.providers.file)');
  });

  it('stops with exit 1 and the problems when the configuration is invalid', async () => {
    const dir = tempFiles({ 'config.yaml': 'server:\n  http_port: -1\n' });
    const result = await runCli(['serve', '--config', join(dir, 'config.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('server.http_port (2:14): must be >= 0; got -1\n');
    expect(JSON.parse(result.stdout)).toMatchObject({
      level: 'fatal',
      code: 'ERR_CONFIG_INVALID',
      problems: ['server.http_port (2:14): must be >= 0; got -1'],
      msg: 'portcullis could not start',
    });
  });

  it('stops with exit 1 when the port is taken', async () => {
    const dir = tempFiles({ 'config.yaml': config() });
    const first = await startServe(join(dir, 'config.yaml'));
    const port = new URL(first.address).port;
    writeFileSync(join(dir, 'taken.yaml'), config().replace('http_port: 0', `http_port: ${port}`));
    const second = await runCli(['serve', '--config', join(dir, 'taken.yaml')]);
    await first.stop();
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`^listening on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  });
});

describe('portcullis serve with authentication required', () => {
  it('bootstraps, creates, lists, deletes and expires tokens over real HTTP, as Flipt does', async () => {
    const dir = tempFiles({
      'config.yaml': [
        'server: {host: 127.0.0.1, http_port: 0}',
        'authentication:',
        '  required: true',
        '  methods:',
        '    token:',
        '      enabled: true',
        '      storage:',
        '        tokens:',
        '          ci:',
        '            credential: static-ci-credential',
        '            metadata: {role: admin}',
        '',
      ].join('\n'),
    });
    const served = await startServe(join(dir, 'config.yaml'));
    try {
      const call = (path: string, token?: string, init: RequestInit = {}) =>
        fetch(`${served.address}${path}`, {
          ...init,
          headers: {
            ...(token && { authorization: `Bearer ${token}` }),
            'content-type': 'application/json',
            ...init.headers,
          },
        });

      const bootstrapLine = served
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"client_token"'))
        .map((line) => JSON.parse(line) as { msg: string; client_token: string });
      expect(bootstrapLine).toHaveLength(1);
      expect(bootstrapLine[0]?.msg).toBe('access token created');
      const bootstrapToken = bootstrapLine[0]?.client_token as string;

      const created = await call('/auth/v1/method/token', bootstrapToken, {
        method: 'POST',
        body: JSON.stringify({ name: 'access_all_areas', description: 'keys to the castle' }),
      });
      expect(created.status).toBe(200);
      const { clientToken, authentication } = (await created.json()) as {
        clientToken: string;
        authentication: { id: string };
      };

      const self = await call('/auth/v1/self', clientToken);
      expect(await self.json()).toMatchObject({
        id: authentication.id,
        method: 'METHOD_TOKEN',
        metadata: { 'io.flipt.auth.token.name': 'access_all_areas' },
      });

      const listed = (await (await call('/auth/v1/tokens', clientToken)).json()) as {
        authentications: Array<{ id: string }>;
      };
      expect(listed.authentications.map((a) => a.id)).toContain(authentication.id);

      const deleted = await call(`/auth/v1/tokens/${authentication.id}`, bootstrapToken, {
        method: 'DELETE',
      });
      expect(await deleted.json()).toEqual({});
      const refused = await call('/auth/v1/self', clientToken);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('request was not authenticated');
      expect(await refused.json()).toEqual({
        code: 16,
        message: 'request was not authenticated',
        details: [],
      });

      const brief = (await (
        await call('/auth/v1/method/token', bootstrapToken, {
          method: 'POST',
          body: JSON.stringify({ name: 'brief', expiresAt: new Date(Date.now() + 500).toISOString() }),
        })
      ).json()) as { clientToken: string };
      expect((await call('/auth/v1/self', brief.clientToken)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect((await call('/auth/v1/self', brief.clientToken)).status).toBe(401);

      expect(await (await call('/auth/v1/self', 'static-ci-credential')).json()).toMatchObject({
        id: 'ci',
        metadata: { role: 'admin' },
      });
      expect((await call('/auth/v1/tokens/ci', bootstrapToken, { method: 'DELETE' })).status).toBe(200);
      expect((await call('/auth/v1/self', 'static-ci-credential')).status).toBe(200);
    } finally {
      const result = await served.stop();
      expect(result.code).toBe(0);
      expect(result.stdout).not.toContain('static-ci-credential');
    }
  });
});

describe('portcullis serve and resolved secrets', () => {
  it('prints no resolved value even when a failure after resolution puts one in its message', async () => {
    const dir = tempFiles({
      'secrets/key': 'resolved-value-9d8c7b\n',
      'leaky.mjs': `export default {
  kind: 'method', apiVersion: '^1.0.0', name: 'leaky', method: 'METHOD_LEAKY', sessionCompatible: false,
  configSchema: { type: 'object', additionalProperties: false, properties: { key: { type: 'string' } } },
  create(ctx, config) { throw new Error('key rejected: ' + config.key); },
};
`,
    });
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'plugins: [./leaky.mjs]',
        'server: {host: 127.0.0.1, http_port: 0}',
        'secrets:',
        '  providers:',
        `    file: {enabled: true, base_path: ${join(dir, 'secrets')}}`,
        'authentication:',
        '  methods:',
        '    leaky: {enabled: true, key: "${secret:file:key}"}',
        '',
      ].join('\n'),
    );
    const result = await runCli(['serve', '--config', join(dir, 'config.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('plugin "leaky" failed in create: key rejected: [REDACTED]\n');
    expect(result.stdout + result.stderr).not.toContain('resolved-value-9d8c7b');
  });
});
