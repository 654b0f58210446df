/**
 * A reader that goes away (`portcullis validate … | head -1`) is no failure of the command (issue 14, item 10):
 * no stack trace, and the exit code the command would have had.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliWithClosedPipe } from '../core/test-support/cli.ts';
import { freePort } from '../core/test-support/ports.ts';
import { tempFiles } from '../core/test-support/tmp.ts';

const STACK = /\n\s+at |Unhandled 'error' event|EPIPE/;

/** Many problems: more than a pipe's buffer holds would be printed without the listing's limit. */
const manyProblems = `authentication:\n${Array.from({ length: 3000 }, (_, i) => `  key${i}: ${i}\n`).join('')}`;

describe('a closed standard output', () => {
  it('validate with problems exits 1, quietly', async () => {
    const dir = tempFiles({ 'config.yaml': manyProblems });
    const result = await runCliWithClosedPipe('stdout', ['validate', '--config', join(dir, 'config.yaml')])
      .done;
    expect(result).toMatchObject({ code: 1, signal: null, stderr: '' });
  });

  it('validate of a valid file exits 0, quietly', async () => {
    const dir = tempFiles({ 'config.yaml': 'authentication: {required: false}\n' });
    const result = await runCliWithClosedPipe('stdout', ['validate', '--config', join(dir, 'config.yaml')])
      .done;
    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
  });

  it('schema exits 0, quietly', async () => {
    const result = await runCliWithClosedPipe('stdout', ['schema']).done;
    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
  });

  it('--help exits 0, quietly', async () => {
    const result = await runCliWithClosedPipe('stdout', ['--help']).done;
    expect(result.stderr).not.toMatch(STACK);
    expect(result.code).toBe(0);
  });

  it('serve keeps serving with its logs unread, and stops with 0 on SIGTERM', async () => {
    const port = await freePort();
    const dir = tempFiles({
      'config.yaml': `server: {host: 127.0.0.1, http_port: ${port}}\nauthentication: {required: false}\n`,
    });
    const run = runCliWithClosedPipe('stdout', ['serve', '--config', join(dir, 'config.yaml')]);
    let health: number | undefined;
    for (let attempt = 0; attempt < 100 && health === undefined; attempt++) {
      health = await fetch(`http://127.0.0.1:${port}/health`).then(
        (response) => response.status,
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        },
      );
    }
    expect(health).toBe(200);
    // A request that is refused and logged, after the pipe is gone.
    expect((await fetch(`http://127.0.0.1:${port}/nowhere`)).status).toBe(404);
    run.child.kill('SIGTERM');
    expect(await run.done).toMatchObject({ code: 0, signal: null, stderr: '' });
  });
});

describe('a closed standard error', () => {
  it('validate of a file with warnings still exits 0 and prints "valid"', async () => {
    const dir = tempFiles({ 'config.yaml': 'storage: {type: local}\nanalytics: {}\n' });
    const result = await runCliWithClosedPipe('stderr', ['validate', '--config', join(dir, 'config.yaml')])
      .done;
    expect(result).toMatchObject({ code: 0, signal: null, stdout: 'valid\n' });
  });

  it('schema with a missing plugin still exits 1', async () => {
    const result = await runCliWithClosedPipe('stderr', ['schema', '--plugin', './nowhere.mjs']).done;
    expect(result).toMatchObject({ code: 1, signal: null, stdout: '' });
  });

  it('serve with an invalid configuration still exits 1 with its fatal log line', async () => {
    const dir = tempFiles({ 'config.yaml': 'server:\n  http_port: -1\n' });
    const result = await runCliWithClosedPipe('stderr', ['serve', '--config', join(dir, 'config.yaml')]).done;
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ level: 'fatal', code: 'ERR_CONFIG_INVALID' });
  });
});
