import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, tempFiles } from '../../core/test-support/tmp.ts';
import { ErrorCodes, type PortcullisError } from '../../index.ts';
import file from './index.ts';
import { openFileSource } from './source.ts';

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as PortcullisError,
  );

describe('file secret provider', () => {
  it('needs a base path that exists and is a folder', async () => {
    const dir = tempFiles({ 'a-file': 'x' });
    const missing = await rejection(openFileSource(join(dir, 'nope')));
    expect(missing.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(missing.message).toBe(`checking base path: stat ${join(dir, 'nope')}: no such file or directory`);
    expect((await rejection(openFileSource(join(dir, 'a-file')))).message).toContain('not a directory');
  });

  it('returns the trimmed contents of <base_path>/<path>', async () => {
    const dir = tempFiles({ 'ci-token': '  s3cr3t\n', 'tokens/deploy': 'deploy-token\n' });
    const source = await openFileSource(dir);
    expect(await source.get('ci-token')).toBe('s3cr3t');
    expect(await source.get('tokens/deploy')).toBe('deploy-token');
    expect(await source.get('/ci-token')).toBe('s3cr3t');
  });

  it('selects a key of a JSON secret for the three-part form', async () => {
    const source = await openFileSource(
      tempFiles({ 'oidc.json': '{"client_id": "abc", "port": 5, "nested": {}}', plain: 'text' }),
    );
    expect(await source.get('oidc.json', 'client_id')).toBe('abc');
    expect(await source.get('oidc.json', 'port')).toBe('5');
    const missing = await rejection(source.get('oidc.json', 'client_secret'));
    expect(missing.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(missing.message).toBe('key "client_secret" not found in secret at path "oidc.json"');
    expect((await rejection(source.get('oidc.json', 'nested'))).code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect((await rejection(source.get('plain', 'x'))).message).toBe(
      'secret at path "plain" is not a JSON object, so key "x" cannot be selected',
    );
  });

  it('says a secret is not found without revealing anything', async () => {
    const source = await openFileSource(tempFiles({ sub: '' }));
    const error = await rejection(source.get('absent'));
    expect(error.code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect(error.message).toBe('secret not found at path "absent"');
  });

  it('refuses paths that climb out of the base path, directly or through a symbolic link', async () => {
    const outside = tempFiles({ stolen: 'do-not-read' });
    const base = tempDir();
    mkdirSync(join(base, 'inner'));
    writeFileSync(join(base, 'inner', 'ok'), 'fine');
    symlinkSync(join(outside, 'stolen'), join(base, 'escape'));
    symlinkSync(join(base, 'inner', 'ok'), join(base, 'alias'));
    const source = await openFileSource(base);

    const climbed = await rejection(source.get(`../${outside.split('/').pop()}/stolen`));
    expect(climbed.code).toBe(ErrorCodes.SECRET_REFERENCE_INVALID);
    expect(climbed.message).not.toContain('do-not-read');
    expect((await rejection(source.get('inner/../../etc/passwd'))).code).toBe(
      ErrorCodes.SECRET_REFERENCE_INVALID,
    );
    const linked = await rejection(source.get('escape'));
    expect(linked.code).toBe(ErrorCodes.SECRET_REFERENCE_INVALID);
    expect(linked.message).toBe('secret path "escape" leads outside base_path through a symbolic link');
    expect(await source.get('alias')).toBe('fine');
  });

  it('refuses folders and files over 1 MiB', async () => {
    const dir = tempFiles({ 'folder/x': 'x' });
    writeFileSync(join(dir, 'huge'), Buffer.alloc(1024 * 1024 + 1, 'a'));
    const source = await openFileSource(dir);
    expect((await rejection(source.get('folder'))).code).toBe(ErrorCodes.SECRET_NOT_FOUND);
    expect((await rejection(source.get('huge'))).message).toBe('secret at path "huge" is larger than 1 MiB');
  });

  it("validates with Flipt's message and opens through the plugin contract", async () => {
    expect(file.validate?.({ enabled: true, base_path: '' }, {} as never)).toEqual([
      { path: ['base_path'], message: 'secrets.providers.file: base_path non-empty value is required' },
    ]);
    const dir = tempFiles({ token: 'abc' });
    const source = await file.create(
      {
        error: (code, message) => {
          throw Object.assign(new Error(message), { code });
        },
        log: {} as never,
        env: {},
        fetch,
        now: () => new Date(),
      },
      { enabled: true, base_path: dir },
    );
    expect(await source.get('token')).toBe('abc');
  });
});

describe('file secret provider names', () => {
  it('reads a file whose name starts with two dots', async () => {
    const source = await openFileSource(tempFiles({ '..token': 'dotted' }));
    expect(await source.get('..token')).toBe('dotted');
  });
});
