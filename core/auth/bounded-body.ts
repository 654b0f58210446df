import { ErrorCodes } from '../errors.ts';

/** An answer longer than its reader allows. */
export class BodyTooLargeError extends Error {
  readonly code = ErrorCodes.BODY_TOO_LARGE;
}

/**
 * The text of an HTTP answer, read no further than `maxBytes`: a key set or a userinfo answer is a few KiB, and an
 * answer that says no length (chunked) must not be buffered whole before its size is known.
 *
 * @throws {BodyTooLargeError} (`ERR_BODY_TOO_LARGE`) naming `what` and the limit once the body passes `maxBytes`
 * (the rest is not read); a failing stream's own error.
 */
export async function readTextLimited(response: Response, maxBytes: number, what: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new BodyTooLargeError(`${what} is more than ${maxBytes} bytes (its length says ${declared})`);
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new BodyTooLargeError(`${what} is more than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
