import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test-support/tmp.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Lints `files` (paths as in the repository) with the repository's biome.json, in a folder of their own. */
function lint(files: Record<string, string>): { status: number | null; output: string } {
  const dir = tempDir();
  const config = JSON.parse(readFileSync(join(root, 'biome.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'biome.json'), JSON.stringify({ ...config, vcs: { enabled: false } }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const run = spawnSync(join(root, 'node_modules/.bin/biome'), ['lint', '.'], { cwd: dir, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const importing = (specifier: string) =>
  `import { ErrorCodes } from '${specifier}';\nexport const codes = ErrorCodes;\n`;

describe('the kit rule (npm run check)', () => {
  it('fails a plugin or a store that imports core/ other than through the kit entry', () => {
    for (const path of ['plugins/magic/index.ts', 'secrets/vault/client.ts', 'plugins/magic/magic.test.ts']) {
      const { status, output } = lint({ [path]: importing('../../core/errors.ts') });
      expect(status, path).not.toBe(0);
      expect(output).toContain('noRestrictedImports');
      expect(output).toContain('Plugins import portcullis only through the kit');
    }
  });

  it('fails plugin code reaching core/ another way: the package entry, the conformance kit, bin/', () => {
    for (const specifier of [
      '../../index.ts',
      '../../index.js',
      '../../conformance/kit/test-context.ts',
      '../../bin/cli.ts',
    ]) {
      const { status, output } = lint({ 'plugins/magic/index.ts': importing(specifier) });
      expect(status, specifier).not.toBe(0);
      expect(output).toContain('noRestrictedImports');
    }
  });

  it('fails the package entry however it is spelled, and the package by its own name', () => {
    const spellings = {
      'plugins/magic/lib/deep.ts': '../../../index.ts',
      'plugins/magic/a/b/c/deeper.ts': '../../../../../index.ts',
      'plugins/magic/dot.ts': './../../index.ts',
      'plugins/magic/dots.ts': '../.././index.ts',
      'plugins/magic/round.ts': '../magic/../../index.ts',
      'plugins/magic/built.ts': '../../dist/index.js',
      'plugins/magic/name.ts': 'portcullis',
      'secrets/vault/name.ts': 'portcullis/plugin',
    };
    for (const [path, specifier] of Object.entries(spellings)) {
      expect(lint({ [path]: importing(specifier) }).status, `${path}: ${specifier}`).not.toBe(0);
    }
    // Its own files, and packages, stay open.
    expect(lint({ 'plugins/magic/routes.ts': importing('./index.ts') }).status).toBe(0);
    expect(lint({ 'plugins/magic/routes.ts': importing('jose') }).status).toBe(0);
  });

  it('passes the kit entry, and core/test-support in tests', () => {
    expect(lint({ 'plugins/magic/index.ts': importing('../../core/plugins/kit/index.ts') }).status).toBe(0);
    expect(lint({ 'secrets/vault/index.ts': importing('../../core/plugins/kit/index.ts') }).status).toBe(0);
    expect(lint({ 'plugins/magic/magic.test.ts': importing('../../core/test-support/tmp.ts') }).status).toBe(
      0,
    );
    expect(lint({ 'plugins/magic/routes.ts': importing('../../core/test-support/tmp.ts') }).status).not.toBe(
      0,
    );
  });
});
