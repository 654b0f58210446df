import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../core/test-support/cli.ts';
import { tempFiles } from '../core/test-support/tmp.ts';

const VALUES = {
  'ci-token': 'check-ci-token-value-71c3',
  'db.json': '{"password":"check-db-password-0e5a"}',
};

describe('portcullis secrets check', () => {
  it('prints one line per reference, ok or why not, never a value, and exits 1 when one fails', async () => {
    const secrets = tempFiles(VALUES);
    const dir = tempFiles({
      'config.yaml': [
        'authentication:',
        '  session: {csrf: {key: "${secret:file:ci-token}"}}',
        '  methods:',
        '    token:',
        '      enabled: true',
        '      storage:',
        '        tokens:',
        '          ci: {credential: "${secret:file:ci-token}"}',
        '          db: {credential: "${secret:file:db.json:password}"}',
        '          gone: {credential: "${secret:file:missing-token}"}',
        '          nokey: {credential: "${secret:file:db.json:user}"}',
        '          aws: {credential: "${secret:aws:ci-token}"}',
        'secrets:',
        '  fetch_timeout: 2s',
        '  providers:',
        `    file: {enabled: true, base_path: ${JSON.stringify(secrets)}}`,
        '    vault: {enabled: true, address: "http://127.0.0.1:9", token: check-vault-token-5b}',
        '',
      ].join('\n'),
    });
    const result = await runCli(['secrets', 'check', '--config', join(dir, 'config.yaml')]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    // Each distinct reference once, in file order.
    expect(lines.map((line) => line.split(' ')[0])).toEqual([
      '${secret:file:ci-token}',
      '${secret:file:db.json:password}',
      '${secret:file:missing-token}',
      '${secret:file:db.json:user}',
      '${secret:aws:ci-token}',
    ]);
    expect(lines[0]).toBe('${secret:file:ci-token} ok');
    expect(lines[1]).toBe('${secret:file:db.json:password} ok');
    expect(lines[2]).toBe(
      '${secret:file:missing-token} ERR_SECRET_NOT_FOUND: secret not found at path "missing-token"',
    );
    expect(lines[3]).toBe(
      '${secret:file:db.json:user} ERR_SECRET_NOT_FOUND: key "user" not found in secret at path "db.json"',
    );
    expect(lines[4]).toMatch(/^\$\{secret:aws:ci-token\} ERR_SECRET_PROVIDER: provider "aws" not found/);
    const output = result.stdout + result.stderr;
    for (const value of [...Object.values(VALUES), 'check-db-password-0e5a', 'check-vault-token-5b']) {
      expect(output).not.toContain(value);
    }
  });

  it('exits 0 when every reference resolves; says so when there is none', async () => {
    const secrets = tempFiles(VALUES);
    const ok = tempFiles({
      'config.yaml': `authentication: {methods: {token: {enabled: true, storage: {tokens: {ci: {credential: "\${secret:file:ci-token}"}}}}}}\nsecrets: {providers: {file: {enabled: true, base_path: ${JSON.stringify(secrets)}}}}\n`,
    });
    expect(await runCli(['secrets', 'check', '--config', join(ok, 'config.yaml')])).toMatchObject({
      code: 0,
      stdout: '${secret:file:ci-token} ok\n',
    });
    const none = tempFiles({ 'config.yaml': 'authentication: {required: false}\n' });
    expect(await runCli(['secrets', 'check', '--config', join(none, 'config.yaml')])).toMatchObject({
      code: 0,
      stdout: 'no secret references\n',
    });
  });

  it('a store that cannot start fails each of its references with why; an invalid file prints its problems', async () => {
    const dir = tempFiles({
      'config.yaml':
        'authentication: {methods: {token: {enabled: true, storage: {tokens: {ci: {credential: "${secret:file:ci-token}"}}}}}}\nsecrets: {providers: {file: {enabled: true, base_path: /nonexistent/secrets}}}\n',
    });
    const result = await runCli(['secrets', 'check', '--config', join(dir, 'config.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^\$\{secret:file:ci-token\} ERR_SECRET_PROVIDER: secret provider "file" could not start: plugin "file" failed in create: checking base path: stat \/nonexistent\/secrets: no such file or directory\n$/,
    );
    const invalid = tempFiles({ 'config.yaml': 'authentication: {required: "nope"}\n' });
    expect(await runCli(['secrets', 'check', '--config', join(invalid, 'config.yaml')])).toMatchObject({
      code: 1,
      stdout: 'authentication.required (1:28): must be a boolean (true or false); got "nope"\n',
    });
  });
});

describe('portcullis secrets check and serve with a very long secret (a CA bundle referenced by mistake)', () => {
  it('neither crashes nor shows any value', async () => {
    const big = 'B'.repeat(40_000);
    const secrets = tempFiles({ big, small: 'long-check-small-secret-5c' });
    const dir = tempFiles({
      'config.yaml': `authentication: {required: true, methods: {token: {enabled: true, storage: {tokens: {a: {credential: "\${secret:file:small}"}, b: {credential: "\${secret:file:big}"}, c: {credential: "\${secret:file:absent}"}}}}}}\nsecrets: {providers: {file: {enabled: true, base_path: ${JSON.stringify(secrets)}}}}\n`,
    });
    const checked = await runCli(['secrets', 'check', '--config', join(dir, 'config.yaml')]);
    expect(checked.code).toBe(1);
    expect(checked.stdout.split('\n').slice(0, 2)).toEqual([
      '${secret:file:small} ok',
      '${secret:file:big} ok',
    ]);
    const served = await runCli(['serve', '--config', join(dir, 'config.yaml')]);
    expect(served.code).toBe(1);
    for (const output of [checked.stdout + checked.stderr, served.stdout + served.stderr]) {
      expect(output).not.toContain('long-check-small-secret-5c');
      expect(output).not.toContain('B'.repeat(100));
      expect(output).not.toContain('Invalid regular expression');
    }
  });
});
