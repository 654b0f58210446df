import { isUtf8 } from 'node:buffer';
import type { LocatedIssue } from '../errors.ts';

const BOM = '\ufeff';
const REPLACEMENT = '\ufffd';

/** Result of {@link decodeConfigBytes}: the text, or why the bytes are not text. */
export type DecodeResult = { ok: true; text: string } | { ok: false; issue: LocatedIssue };

/**
 * The text of a configuration file. YAML and JSON files are UTF-8; bytes that are not (a file saved as Latin-1 or
 * UTF-16) are refused at the first one, rather than read as U+FFFD and compared against a credential. A leading
 * byte order mark is dropped, so that columns on the first line count from the first character that shows.
 */
export function decodeConfigBytes(bytes: Uint8Array, file: string): DecodeResult {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) {
    const text = buffer.toString('utf8');
    return { ok: true, text: text.startsWith(BOM) ? text.slice(1) : text };
  }
  const utf16 = (buffer[0] === 0xff && buffer[1] === 0xfe) || (buffer[0] === 0xfe && buffer[1] === 0xff);
  const { line, col, byte } = firstInvalid(buffer);
  const what = utf16
    ? 'is UTF-16 text; save it as UTF-8'
    : `is not UTF-8 text: byte 0x${byte.toString(16).padStart(2, '0')} does not start a character; save it as UTF-8`;
  return { ok: false, issue: { path: [], message: `the file ${what}`, source: { file, line, col } } };
}

/**
 * Where the first byte that is not UTF-8 is. The decoder replaces each bad sequence with U+FFFD; walking the
 * decoded text beside the bytes, the first U+FFFD that the bytes do not spell (EF BF BD) is the place.
 */
function firstInvalid(buffer: Buffer): { line: number; col: number; byte: number } {
  let offset = 0;
  let line = 1;
  let col = 1;
  for (const char of buffer.toString('utf8')) {
    if (
      char === REPLACEMENT &&
      !(buffer[offset] === 0xef && buffer[offset + 1] === 0xbf && buffer[offset + 2] === 0xbd)
    ) {
      return { line, col, byte: buffer[offset] ?? 0 };
    }
    offset += Buffer.byteLength(char);
    if (char === '\n') {
      line += 1;
      col = 1;
    } else {
      col += char.length;
    }
  }
  return { line, col, byte: 0 };
}
