import { open } from 'node:fs/promises';
import { ErrorCodes } from '../errors.ts';

/**
 * The most portcullis reads of a file that the configuration names and that is read whole (a PEM key, a CA bundle,
 * a TLS certificate): far more than any such file holds, and a bound on what a wrong path (`/dev/zero`) costs.
 */
export const MAX_NAMED_FILE_BYTES = 4 * 1024 * 1024;

/** `n` bytes as a message writes them: `16 MiB`, `512 KiB`, `100 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** A file longer than its reader allows. The message names the limit; the reader's message names the file. */
export class FileTooLargeError extends Error {
  readonly code = ErrorCodes.FILE_TOO_LARGE;
  readonly limit: number;

  constructor(limit: number) {
    super(`the file is larger than ${formatBytes(limit)}, the most portcullis reads`);
    this.name = 'FileTooLargeError';
    this.limit = limit;
  }
}

const CHUNK_BYTES = 64 * 1024;

/**
 * Reads a whole file, as a stream, stopping with a {@link FileTooLargeError} once it holds more than `limit` bytes.
 * Its size is not asked first: a character device (`/dev/zero`) or a named pipe reports 0 and never ends.
 */
export async function readFileLimited(file: string, limit: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // One byte past the limit at most, to tell a file of exactly `limit` bytes from a longer one.
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, limit + 1 - total));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      total += bytesRead;
      if (total > limit) throw new FileTooLargeError(limit);
      chunks.push(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** {@link readFileLimited} as UTF-8 text. */
export async function readTextFileLimited(file: string, limit: number): Promise<string> {
  return (await readFileLimited(file, limit)).toString('utf8');
}
