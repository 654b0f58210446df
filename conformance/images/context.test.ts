import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../core/test-support/tmp.ts';
import {
  type BuildContext,
  contextDigest,
  contextTar,
  dependencyClosure,
  packageEntries,
  productionPackages,
  repoEntry,
  repoRoot,
} from './context.ts';

const run = promisify(execFile);

/** Unpacks a context as the Docker daemon would receive it. */
async function unpack(context: BuildContext, into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  const tar = spawn('tar', ['-x', '-C', into], { stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise<void>((resolve, reject) =>
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar -x exited ${code}`)))),
  );
  await pipeline(contextTar(context), tar.stdin);
  await done;
}

describe('build contexts of the conformance images', () => {
  it('keeps the production packages npm itself lists (npm ls --omit=dev)', async () => {
    const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
      cwd: repoRoot,
      maxBuffer: 16 << 20,
    });
    const npm = new Set(
      stdout
        .split('\n')
        .filter((line) => line.includes('node_modules'))
        .map((line) => relative(repoRoot, line)),
    );
    expect(new Set(productionPackages())).toEqual(npm);
  }, 60_000);

  it('runs portcullis from dist/ and the production packages alone, as the image does', async () => {
    const dir = tempDir();
    await unpack(
      {
        entries: [
          repoEntry('package.json'),
          repoEntry('dist'),
          repoEntry('schema'),
          ...packageEntries(productionPackages()),
        ],
      },
      dir,
    );
    cpSync(join(repoRoot, 'examples', 'config.yaml'), join(dir, 'config.yaml'));
    const { stdout } = await run(
      process.execPath,
      ['dist/bin/portcullis.js', 'validate', '--config', 'config.yaml'],
      {
        cwd: dir,
      },
    );
    expect(stdout).toMatch(/valid/i);
  }, 60_000);

  it("imports oidc-provider from its dependency closure alone (the test IdP's image)", async () => {
    const dir = tempDir();
    const closure = dependencyClosure(['oidc-provider']);
    expect(closure).toContain('node_modules/oidc-provider');
    expect(closure).not.toContain('node_modules/vitest');
    await unpack({ entries: packageEntries(closure) }, dir);
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('oidc-provider'); console.log(typeof m.default)"],
      { cwd: dir },
    );
    expect(stdout.trim()).toBe('function');
  }, 60_000);

  it('digests the contents, so that a changed file gives a new tag and the same files the same one', () => {
    const dir = tempDir();
    const context = (): BuildContext => ({
      entries: [{ from: dir, to: 'app' }],
      generated: { Dockerfile: 'FROM x' },
    });
    mkdirSync(join(dir, 'sub'));
    cpSync(join(repoRoot, 'package.json'), join(dir, 'sub', 'package.json'));
    const first = contextDigest(context());
    expect(contextDigest(context())).toBe(first);
    cpSync(join(repoRoot, 'README.md'), join(dir, 'sub', 'package.json'));
    expect(contextDigest(context())).not.toBe(first);
  });
});
