/**
 * The htpasswd example as a plugin author's user meets it: portcullis and the plugin packed (`npm pack`) and
 * installed from those tarballs into a temporary project, without the registry, the plugin listed under `plugins:`
 * by its package name, and `portcullis serve` (the installed bin) asked through forward-auth. Then the example's own
 * `node --test` run (its conformance run included), against the installed portcullis.
 *
 * No network: the dependencies of both packages (portcullis's, and bcryptjs, a devDependency of this repo for this
 * test) are copied from this repo's node_modules into the project first, so that `npm install --offline` finds every
 * one already in place, and the registry npm is pointed at is a closed port.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv } from '../../core/test-support/cli.ts';
import { tempDirForSuite } from '../../core/test-support/tmp.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = join(import.meta.dirname, 'htpasswd');
const run = promisify(execFile);

/** The environment of a nested npm or node: no FLIPT_* (cleanEnv), nor the npm_* of the `npm test` around us. */
function isolatedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(cleanEnv()).filter(([name]) => !/^npm_/i.test(name)));
  return { ...env, ...extra };
}

/** npm, unable to reach any registry: an attempt fails at once instead of going to the network. */
const NPM_ENV = isolatedEnv({
  npm_config_registry: 'http://127.0.0.1:9/',
  npm_config_update_notifier: 'false',
});

async function npm(args: readonly string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args], { cwd, env: NPM_ENV, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** `npm pack` of a folder into `destination`; resolves to the tarball's path. */
async function pack(folder: string, destination: string): Promise<string> {
  const [packed] = JSON.parse(
    await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', destination], folder),
  ) as [{ filename: string }];
  return join(destination, packed.filename);
}

/**
 * Copies this repo's installed production dependencies (the package-lock entries not marked dev), and bcryptjs,
 * into `project`'s node_modules, with their links in node_modules/.bin (npm reinstalls a package whose bin is not
 * linked, and would ask the registry for it): what npm would fetch for the two tarballs.
 */
function copyDependencies(project: string): void {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  const wanted = Object.entries(lock.packages)
    .filter(
      ([path, entry]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && !entry.dev && !entry.devOptional,
    )
    .map(([path]) => path);
  const copied = new Set<string>();
  for (const path of [...wanted, 'node_modules/bcryptjs']) {
    if (!existsSync(join(ROOT, path))) continue;
    cpSync(join(ROOT, path), join(project, path), { recursive: true, verbatimSymlinks: true });
    copied.add(path.slice('node_modules/'.length));
  }
  const bin = join(ROOT, 'node_modules', '.bin');
  mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
  for (const name of readdirSync(bin)) {
    // `../yaml/bin.mjs`: the package is the path's first one or two segments after `..`.
    const target = readlinkSync(join(bin, name));
    const [, scope = '', pkg = ''] = /^\.\.\/(@[^/]+\/)?([^/]+)\//.exec(target) ?? [];
    if (copied.has(`${scope}${pkg}`)) symlinkSync(target, join(project, 'node_modules', '.bin', name));
  }
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** An htpasswd line as `htpasswd -B -C 4` writes it (cost 4 keeps the test fast). */
const entry = (user: string, password: string) =>
  `${user}:${bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$')}\n`;

interface Serve {
  readonly address: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the installed `portcullis serve` and waits for the line saying where it listens. */
function serve(project: string, config: string): Promise<Serve> {
  const child: ChildProcess = spawn(
    join(project, 'node_modules', '.bin', 'portcullis'),
    ['serve', '--config', config],
    {
      cwd: project,
      env: isolatedEnv(),
    },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"address":"([^"]+)","methods"/.exec(output);
      if (match?.[1]) {
        resolve({
          address: match[1],
          output: () => output,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    exited.then(() => reject(new Error(`portcullis serve exited before listening:\n${output}`)));
  });
}

describe('the htpasswd example plugin, packed and installed into a project', () => {
  const PASSWORD = 'correct-horse-3f9a1c';
  const NEW_PASSWORD = 'battery-staple-8e27d0';
  let project: string;
  let htpasswd: string;
  let server: Serve | undefined;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'bin', 'portcullis.js'))) {
      throw new Error('dist/ is missing: this test packs the built portcullis (npm test builds it first)');
    }
    const dir = tempDirForSuite();
    project = join(dir, 'project');
    mkdirSync(project);
    const [portcullis, plugin] = await Promise.all([pack(ROOT, dir), pack(EXAMPLE, dir)]);
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'htpasswd-install-test', private: true, type: 'module' })}\n`,
    );
    copyDependencies(project);
    await npm(
      ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', portcullis, plugin],
      project,
    );

    htpasswd = join(project, 'htpasswd');
    writeFileSync(htpasswd, `# users\n${entry('alice', PASSWORD)}`);
    writeFileSync(
      join(project, 'config.yaml'),
      [
        'plugins: [portcullis-plugin-htpasswd]',
        'server: {host: 127.0.0.1, http_port: 0}',
        'authentication:',
        '  required: true',
        '  methods:',
        `    htpasswd: {enabled: true, file: ${JSON.stringify(htpasswd)}}`,
        '',
      ].join('\n'),
    );
    server = await serve(project, join(project, 'config.yaml'));
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  const forward = (authorization: string) =>
    fetch(`${server?.address}/auth/v1/forward`, { headers: { authorization } });

  it('installed both packages from their tarballs, with no registry', () => {
    const installed = JSON.parse(
      readFileSync(join(project, 'node_modules', 'portcullis-plugin-htpasswd', 'package.json'), 'utf8'),
    );
    expect(installed.name).toBe('portcullis-plugin-htpasswd');
    // The tarball holds the plugin, not its tests or this repo's files.
    expect(readdirSync(join(project, 'node_modules', 'portcullis-plugin-htpasswd')).sort()).toEqual([
      'README.md',
      'basic-credential.js',
      'config.js',
      'htpasswd-file.js',
      'htpasswd-format.js',
      'index.js',
      'package.json',
      'passwords.js',
      'schema.json',
    ]);
    expect(existsSync(join(project, 'node_modules', 'portcullis', 'dist', 'core', 'plugins', 'kit'))).toBe(
      true,
    );
  });

  it('answers 200 with the user for a right password, 401 for a wrong one, an unknown user, a malformed header', async () => {
    const right = await forward(basic('alice', PASSWORD));
    expect(right.status).toBe(200);
    expect(right.headers.get('x-auth-request-user')).toBe('alice');
    expect(right.headers.get('x-auth-request-method')).toBe('METHOD_HTPASSWD');

    const self = await fetch(`${server?.address}/auth/v1/self`, {
      headers: { authorization: basic('alice', PASSWORD) },
    });
    expect(self.status).toBe(200);
    expect(await self.json()).toEqual({
      id: '',
      method: 'METHOD_HTPASSWD',
      metadata: { 'io.portcullis.htpasswd.user': 'alice' },
    });

    const refused = {
      'wrong password': basic('alice', 'not-the-password'),
      'unknown user': basic('mallory', PASSWORD),
      'not base64': 'Basic %%%',
      'no colon': `Basic ${Buffer.from('alice').toString('base64')}`,
      'empty user': basic('', PASSWORD),
      'empty credential': 'Basic ',
    };
    for (const [what, authorization] of Object.entries(refused)) {
      const response = await forward(authorization);
      expect({ what, status: response.status }).toEqual({ what, status: 401 });
      expect(response.headers.get('x-auth-request-user')).toBeNull();
    }
    expect(server?.output()).not.toContain(PASSWORD);
  });

  it('takes a new password written to the file without a restart', async () => {
    writeFileSync(htpasswd, entry('alice', NEW_PASSWORD));
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await forward(basic('alice', NEW_PASSWORD))).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);
    expect((await forward(basic('alice', PASSWORD))).status).toBe(401);
    expect(server?.output()).toMatch(/htpasswd file .* read again: 1 user/);
    expect(server?.output()).not.toContain(NEW_PASSWORD);
  });

  it('names the setting in its log lines and errors when the file comes from a ${secret:…} reference, whose path portcullis redacts', async () => {
    // A path longer than a message's cut (64 characters), to show that none of it is written.
    const folder = join(project, 'a-folder-whose-name-makes-the-path-longer-than-a-cut-message-value');
    mkdirSync(folder);
    const referenced = join(folder, 'htpasswd');
    writeFileSync(referenced, entry('alice', PASSWORD));
    const secrets = join(project, 'secrets');
    mkdirSync(secrets);
    writeFileSync(join(secrets, 'htpasswd-path'), `${referenced}\n`);
    writeFileSync(join(secrets, 'folder-path'), `${folder}\n`);
    const configWith = (name: string, reference: string) => {
      const path = join(project, name);
      writeFileSync(
        path,
        [
          'plugins: [portcullis-plugin-htpasswd]',
          'server: {host: 127.0.0.1, http_port: 0}',
          `secrets: {providers: {file: {enabled: true, base_path: ${JSON.stringify(secrets)}}}}`,
          'authentication:',
          '  required: true',
          '  methods:',
          `    htpasswd: {enabled: true, file: '\${secret:file:${reference}}'}`,
          '',
        ].join('\n'),
      );
      return path;
    };

    const referencing = await serve(project, configWith('referencing.yaml', 'htpasswd-path'));
    try {
      const forwardTo = (authorization: string) =>
        fetch(`${referencing.address}/auth/v1/forward`, { headers: { authorization } });
      expect((await forwardTo(basic('alice', PASSWORD))).status).toBe(200);
      rmSync(referenced);
      // As the JSON log line holds it.
      const warning = JSON.stringify(
        'authentication.methods.htpasswd.file: cannot read htpasswd file "[REDACTED]": ENOENT: no such file or directory; the 1 user read before is kept',
      );
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && !referencing.output().includes(warning)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(referencing.output()).toContain(warning);
      expect((await forwardTo(basic('alice', PASSWORD))).status).toBe(200);
      expect(referencing.output()).not.toContain(folder.slice(0, 40));
    } finally {
      await referencing.stop();
    }

    // A reference resolving to a directory: refused at start-up, at the setting, as validate refuses a literal one.
    const refused = await serve(project, configWith('directory.yaml', 'folder-path')).then(
      async (started) => {
        await started.stop();
        throw new Error('portcullis started with a directory as its htpasswd file');
      },
      (error: Error) => error.message,
    );
    expect(refused).toMatch(
      /authentication\.methods\.htpasswd\.file\b.*htpasswd file "\[REDACTED\]" is a directory, not a regular file/,
    );
    expect(refused).not.toContain(folder.slice(0, 40));
  }, 30_000);

  it("passes the example's own node --test run (its conformance run included) against the installed portcullis", async () => {
    // A checkout of the example inside the project, as its author has it: its tests find portcullis and bcryptjs
    // in the project's node_modules.
    const checkout = join(project, 'checkout');
    cpSync(EXAMPLE, checkout, {
      recursive: true,
      filter: (source) => !relative(EXAMPLE, source).split(sep).includes('node_modules'),
    });
    const tests = readdirSync(join(checkout, 'test'))
      .filter((name) => name.endsWith('.test.js'))
      .map((name) => join('test', name));
    expect(tests.length).toBeGreaterThan(0);
    const result = await run(process.execPath, ['--test', ...tests], {
      cwd: checkout,
      env: isolatedEnv(),
      maxBuffer: 16 * 1024 * 1024,
      timeout: 50_000,
    }).catch((error: { stdout: string; stderr: string; code: number }) => error);
    const summary = `${result.stdout}\n${result.stderr}`;
    expect(summary, summary).toMatch(/^# fail 0$/m);
    expect(summary).toMatch(/^# pass [1-9]/m);
    expect(summary).toMatch(/^ok \d+ - htpasswd conformance$/m);
    rmSync(checkout, { recursive: true, force: true });
  }, 60_000);
});
