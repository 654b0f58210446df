/**
 * Output to a reader that has gone away. `portcullis validate | head -1` closes the pipe after one line; Node then
 * reports the next write as an 'error' event on the stream, which, with no listener, ends the process with a stack
 * trace in place of the command's own exit code. Nobody is reading any more, so the rest of the output is dropped:
 * the command runs to its end and exits as it would have (serve keeps serving, its logs unread).
 */

/** The errors a write to a closed pipe raises: the first (`EPIPE`), then every write after it. */
const CLOSED = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

/** Whether `error` says the reader of a stream has gone away. */
export function isClosedPipe(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CLOSED.has(code);
}

/**
 * Drops what is written to `streams` once their reader has gone. Any other write error is not about a reader
 * leaving (a full disk behind a redirection) and is thrown, as it would be without this.
 */
export function dropOutputToClosedPipes(...streams: NodeJS.WritableStream[]): void {
  for (const stream of streams) {
    stream.on('error', (error: unknown) => {
      if (!isClosedPipe(error)) throw error;
    });
  }
}
