import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from '../test-support/tmp.ts';
import { FileTooLargeError, formatBytes, readFileLimited, readTextFileLimited } from './read-limited.ts';

describe('readFileLimited', () => {
  it('reads a file of up to the limit, and refuses one byte more', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'exact'), 'x'.repeat(200_000));
    writeFileSync(join(dir, 'over'), 'x'.repeat(200_001));
    writeFileSync(join(dir, 'empty'), '');
    expect(await readTextFileLimited(join(dir, 'exact'), 200_000)).toHaveLength(200_000);
    expect(await readFileLimited(join(dir, 'empty'), 10)).toHaveLength(0);
    const error = await readFileLimited(join(dir, 'over'), 200_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileTooLargeError);
    expect((error as Error).message).toBe('the file is larger than 200000 bytes, the most portcullis reads');
  });

  it('stops at the limit on a device or a pipe that never ends (their size says 0)', async () => {
    await expect(readFileLimited('/dev/zero', 1024 * 1024)).rejects.toThrow(
      'the file is larger than 1 MiB, the most portcullis reads',
    );
    const fifo = join(tempDir(), 'fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `exec cat /dev/zero > '${fifo}'`], { stdio: 'ignore' });
    onTestFinished(() => {
      writer.kill();
    });
    await expect(readFileLimited(fifo, 64 * 1024)).rejects.toBeInstanceOf(FileTooLargeError);
  });

  it('passes on what keeps a file from being read', async () => {
    await expect(readFileLimited(join(tempDir(), 'missing'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writes limits as messages do', () => {
    expect(formatBytes(16 * 1024 * 1024)).toBe('16 MiB');
    expect(formatBytes(512 * 1024)).toBe('512 KiB');
    expect(formatBytes(100)).toBe('100 bytes');
  });
});
