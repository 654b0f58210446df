import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runCli, spawnCli } from '../core/test-support/cli.ts';
import { eventually } from '../core/test-support/load.ts';
import { tempDir } from '../core/test-support/tmp.ts';
import { startVaultFake } from '../secrets/vault/fake.ts';

/** A config whose one static token comes from Vault at `address`. */
function vaultConfig(address: string, token: string, startupTimeout: string): string {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(
    file,
    [
      'server: {host: 127.0.0.1, http_port: 0}',
      'authentication:',
      '  required: true',
      '  methods:',
      '    token: {enabled: true, storage: {tokens: {ci: {credential: "${secret:vault:ci}"}}}}',
      'secrets:',
      `  startup_timeout: ${startupTimeout}`,
      `  providers: {vault: {enabled: true, address: "${address}", token: ${token}}}`,
      '',
    ].join('\n'),
  );
  return file;
}

const retries = (stdout: string) =>
  stdout.split('\n').filter((line) => line.includes('secret store not reachable yet; retrying')).length;

describe('portcullis serve while a secret store cannot be reached yet', () => {
  it('keeps retrying for startup_timeout, then stops with exit 1 and the reason (the process does not just end)', async () => {
    const started = Date.now();
    const result = await runCli([
      'serve',
      '--config',
      vaultConfig('http://127.0.0.1:9', 'startup-token-3a', '1500ms'),
    ]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(retries(result.stdout)).toBeGreaterThanOrEqual(2);
    expect(result.stdout).toContain('"msg":"portcullis could not start"');
    expect(result.stderr).toContain('vault at http://127.0.0.1:9: looking up the token: connection refused');
    expect(result.stdout + result.stderr).not.toContain('startup-token-3a');
  });

  it('SIGTERM then stops it at once, exit 0', async () => {
    const { child, done } = spawnCli([
      'serve',
      '--config',
      vaultConfig('http://127.0.0.1:9', 'startup-token-3a', '30s'),
    ]);
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
    });
    await eventually(() => retries(seen) > 0, 5_000, 'a retry');
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"msg":"stopped during start-up"');
  });

  it('SIGHUP does not kill it: once started, the file is read again', async () => {
    const fake = await startVaultFake();
    onTestFinished(() => fake.close());
    fake.set('ci', 'startup-static-token-6b');
    fake.setDown(true);
    const { child, done } = spawnCli(['serve', '--config', vaultConfig(fake.address, fake.token, '30s')]);
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
    });
    await eventually(() => retries(seen) > 0, 5_000, 'a retry');
    child.kill('SIGHUP');
    await eventually(() => seen.includes('SIGHUP during start-up'), 5_000, 'the SIGHUP noted');
    fake.setDown(false);
    await eventually(() => seen.includes('"msg":"configuration reloaded"'), 10_000, 'the reload after start');
    const address = /"address":"([^"]+)"/.exec(seen)?.[1];
    const answer = await fetch(`${address}/auth/v1/self`, {
      headers: { authorization: 'Bearer startup-static-token-6b' },
    });
    expect(answer.status).toBe(200);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });
});
