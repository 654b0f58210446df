/**
 * The README's "Writing a plugin" section, taken at its word: its method plugin (the `js` block that starts with
 * `// magic.mjs`) and its configuration (the `yaml` block that starts with `# config.yaml`) are copied into a
 * folder of their own, where `portcullis/plugin` resolves as it does for a third party (a `node_modules/portcullis`
 * link to this package, whose `exports` point into `dist/`, which `npm test` builds first), type-checked, and
 * driven through the built `portcullis serve` in front of an upstream that records what reaches it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse, stringify } from 'yaml';
import { type CliResult, cleanEnv, collect } from '../core/test-support/cli.ts';
import { tempDir } from '../core/test-support/tmp.ts';
import { startUpstream } from '../core/test-support/upstream.ts';

const ROOT = join(import.meta.dirname, '..');
const BUILT_CLI = join(ROOT, 'dist', 'bin', 'portcullis.js');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

/** The fenced block of `language` in the README's "## Writing a plugin" section whose first line starts with `start`. */
function readmeBlock(language: string, start: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = /^## Writing a plugin\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Writing a plugin" section');
  for (const [, lang, body] of section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    if (lang === language && body?.startsWith(start)) return body;
  }
  throw new Error(`README.md "Writing a plugin" has no ${language} block starting with "${start}"`);
}

function run(command: string, args: readonly string[], cwd: string): Promise<CliResult> {
  return collect(spawn(command, args, { cwd, env: cleanEnv() }));
}

/** `portcullis <args>` as an operator runs it: the built CLI, from the folder that holds the configuration. */
const portcullis = (args: readonly string[], cwd: string) => run(process.execPath, [BUILT_CLI, ...args], cwd);

/** `node --test magic.test.mjs` in `dir`, as the plugin's author runs its tests. */
const portcullisTest = (dir: string) => run(process.execPath, ['--test', 'magic.test.mjs'], dir);

/** A third party's folder: the README's module as `magic.mjs`, and `portcullis` installed (a link to this package). */
function pluginFolder(module = readmeBlock('js', '// magic.mjs')): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'magic.mjs'), module);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'portcullis'), 'dir');
  return dir;
}

/**
 * The README's configuration, made to run here: served on a free port of 127.0.0.1, the file store's `base_path`
 * a folder of `dir` holding a fresh spell for every user whose spell is a `${secret:file:…}` reference, and the
 * gateway in front of `upstream`. Returns each user's spell.
 */
function writeConfig(dir: string, upstream: string): Record<string, string> {
  const config = parse(readmeBlock('yaml', '# config.yaml'));
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets);
  config.server = { host: '127.0.0.1', http_port: 0 };
  config.secrets.providers.file.base_path = secrets;
  config.gateway.upstream = upstream;
  const spells: Record<string, string> = {};
  for (const [name, user] of Object.entries<{ spell: string }>(config.authentication.methods.magic.users)) {
    const file = /^\$\{secret:file:([^:}]+)\}$/.exec(user.spell)?.[1];
    spells[name] = file === undefined ? user.spell : `${name}-spell-from-a-file-${Math.random()}`;
    if (file !== undefined) writeFileSync(join(secrets, file), `${spells[name]}\n`);
  }
  writeFileSync(join(dir, 'config.yaml'), stringify(config));
  return spells;
}

/** `portcullis serve` in `dir`, once it says where it listens; stopped when the test ends. */
function serve(dir: string): Promise<string> {
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', '--config', 'config.yaml'], {
    cwd: dir,
    env: cleanEnv(),
  });
  const done = collect(child);
  onTestFinished(async () => {
    child.kill('SIGTERM');
    await done;
  });
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const address = /"address":"([^"]+)","methods"/.exec(seen)?.[1];
      if (address !== undefined) resolve(address);
    });
    done.then((result) =>
      reject(new Error(`serve exited with ${result.code}:\n${result.stdout}${result.stderr}`)),
    );
  });
}

describe("the README's method plugin", () => {
  it('type-checks against portcullis/plugin, its config typed from its schema', async () => {
    const dir = pluginFolder();
    // What `create` is given is the schema's shape, not `any`: a number is no spell.
    writeFileSync(
      join(dir, 'config-type.ts'),
      [
        "import type magic from './magic.mjs';",
        "type User = Parameters<(typeof magic)['create']>[1]['users'][string];",
        "export const spell: User['spell'] = 'a spell';",
        "export const email: User['email'] = undefined;",
        '// @ts-expect-error',
        "export const notASpell: User['spell'] = 42;",
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          allowJs: true,
          checkJs: true,
          noEmit: true,
          strict: true,
          module: 'nodenext',
          target: 'es2023',
          types: [],
          skipLibCheck: true,
        },
        files: ['magic.mjs', 'config-type.ts'],
      }),
    );
    const checked = await run(TSC, ['-p', 'tsconfig.json'], dir);
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.code).toBe(0);
  });

  it('validates, and behind `portcullis serve` owns its scheme, starts sessions, names the caller upstream and lists its metadata', async () => {
    const upstream = await startUpstream();
    const dir = pluginFolder();
    const spells = writeConfig(dir, upstream.url);
    const [alice, bob] = [spells.alice ?? '', spells.bob ?? ''];
    expect(await portcullis(['validate', '--config', 'config.yaml'], dir)).toMatchObject({
      code: 0,
      stdout: 'valid\n',
    });
    const address = await serve(dir);
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${address}${path}`, { headers, redirect: 'manual' });
    const lastUpstreamRequest = () => upstream.received.at(-1)?.headers ?? {};

    // Its scheme: through the gateway, with the identity its `identity` hook reads.
    const byScheme = await get('/reports', { authorization: `Magic ${alice}` });
    expect(byScheme.status).toBe(200);
    expect(await byScheme.json()).toMatchObject({ ok: true, url: '/reports' });
    expect(lastUpstreamRequest()).toMatchObject({
      'x-auth-request-method': 'METHOD_MAGIC',
      'x-auth-request-user': 'alice',
      'x-auth-request-email': 'alice@example.com',
    });
    expect(lastUpstreamRequest().authorization).toBeUndefined();

    // A wrong spell, an empty one, and no credential at all never reach the upstream.
    const before = upstream.received.length;
    const refused: Array<Record<string, string>> = [
      { authorization: 'Magic wrong' },
      { authorization: 'Magic ' },
      {},
    ];
    for (const headers of refused) {
      const answer = await get('/reports', headers);
      expect(answer.status).toBe(401);
      expect(await answer.json()).toMatchObject({ code: 16 });
    }
    expect(upstream.received.length).toBe(before);

    // Its public login route: a session, whose token then authenticates as the cookie and as Bearer.
    const login = (body: string) =>
      fetch(`${address}/auth/v1/method/magic/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        redirect: 'manual',
      });
    const session = await login(JSON.stringify({ spell: bob }));
    expect(session.status).toBe(302);
    expect(session.headers.get('location')).toBe('/');
    const token = /^flipt_client_token=([^;]+);/.exec(session.headers.get('set-cookie') ?? '')?.[1] ?? '';
    expect(token).not.toBe('');
    expect(await session.json()).toMatchObject({
      clientToken: '',
      authentication: { method: 'METHOD_MAGIC', metadata: { 'io.example.magic.user': 'bob' } },
    });
    const asSession: Array<Record<string, string>> = [
      { cookie: `flipt_client_token=${token}` },
      { authorization: `Bearer ${token}` },
    ];
    for (const headers of asSession) {
      const bySession = await get('/dashboard', headers);
      expect(bySession.status).toBe(200);
      expect(lastUpstreamRequest()).toMatchObject({
        'x-auth-request-method': 'METHOD_MAGIC',
        'x-auth-request-user': 'bob',
      });
      expect(lastUpstreamRequest()['x-auth-request-email']).toBeUndefined();
    }
    const self = await get('/auth/v1/self', { authorization: `Bearer ${token}` });
    expect(await self.json()).toMatchObject({
      method: 'METHOD_MAGIC',
      metadata: { 'io.example.magic.user': 'bob' },
    });

    // Its coded errors, as the route answers them.
    const wrong = await login(JSON.stringify({ spell: 'wrong' }));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 16 });
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const malformed = await login('{}');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 3 });

    // Its `info` metadata, in the public list of methods.
    const methods = await get('/auth/v1/method');
    expect(methods.status).toBe(200);
    const listed = ((await methods.json()) as { methods: Array<{ method: string }> }).methods;
    expect(listed.find((m) => m.method === 'METHOD_MAGIC')).toEqual({
      method: 'METHOD_MAGIC',
      enabled: true,
      sessionCompatible: true,
      metadata: { login_url: '/auth/v1/method/magic/login', users: 2 },
    });
  });

  it('passes the conformance kit, run with node --test as the README shows', async () => {
    const dir = pluginFolder();
    writeFileSync(join(dir, 'magic.test.mjs'), readmeBlock('js', '// magic.test.mjs'));
    const result = await portcullisTest(dir);
    expect(result.stdout).toMatch(/^# fail 0$/m);
    expect(result.stdout).toMatch(/^# pass [1-9]/m);
    expect(result.code).toBe(0);
  });

  it('written for another major of the kit, is refused by `portcullis validate` naming both versions', async () => {
    const module = readmeBlock('js', '// magic.mjs');
    expect(module).toContain('defineMethod({\n');
    const dir = pluginFolder(module.replace('defineMethod({\n', "defineMethod({\n  apiVersion: '^2.0.0',\n"));
    writeFileSync(join(dir, 'config.yaml'), readmeBlock('yaml', '# config.yaml'));
    const result = await portcullis(['validate', '--config', 'config.yaml'], dir);
    expect(result.code).toBe(1);
    // Word for word as the README quotes it.
    expect(result.stdout).toBe(readmeBlock('text', 'plugins[0]'));
    expect(result.stdout).toContain('^2.0.0');
    expect(result.stdout).toContain('portcullis/plugin 1.7.0');
  });
});
