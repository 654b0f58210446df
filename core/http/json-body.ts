/**
 * Request bodies of the `/auth/v1` API, read as protojson reads them where `JSON.parse` is laxer: a name given twice
 * in one object is refused (protojson: "duplicate field", "duplicate map key"; RFC 8259 §4 leaves it to the reader,
 * I-JSON, RFC 7493 §2.3, forbids it), where `JSON.parse` silently keeps the last one. Every other key is kept as
 * it is: `JSON.parse` defines `__proto__` as an own property, and nothing here assigns keys one by one.
 */
import { ErrorCodes, PortcullisError } from '../errors.ts';

/** A JSON string token (quotes and escapes included) at the start of `text` from `at`. */
const STRING = /"(?:[^"\\]|\\.)*"/y;

/**
 * The first name given twice in one object of `json` (text `JSON.parse` has already accepted), with the path of
 * that object (`metadata`, `a.b`, `items[2]`), or `undefined` when every object's names are distinct. Names are
 * compared decoded, so `"a"` and `"\u0061"` are the same name.
 */
export function duplicateName(json: string): { path: string; name: string } | undefined {
  // One frame per open object or array: the names seen so far (objects), and where it sits.
  const frames: Array<{ names?: Set<string>; path: string; index: number; pending?: string }> = [];
  let expectName = false;
  for (let at = 0; at < json.length; at++) {
    const char = json[at];
    const frame = frames.at(-1);
    if (char === '"') {
      STRING.lastIndex = at;
      const token = STRING.exec(json)?.[0] ?? '""';
      at += token.length - 1;
      if (expectName && frame?.names !== undefined) {
        const name = JSON.parse(token) as string;
        if (frame.names.has(name)) return { path: frame.path, name };
        frame.names.add(name);
        frame.pending = name;
        expectName = false;
      }
    } else if (char === '{' || char === '[') {
      const where = frame === undefined ? '' : childPath(frame);
      frames.push(char === '{' ? { names: new Set(), path: where, index: 0 } : { path: where, index: 0 });
      expectName = char === '{';
    } else if (char === '}' || char === ']') {
      frames.pop();
    } else if (char === ',') {
      if (frame !== undefined) frame.index++;
      expectName = frame?.names !== undefined;
    }
  }
  return undefined;
}

/** The path of the value being read in `frame`: its pending name, or its index in an array. */
function childPath(frame: { names?: Set<string>; path: string; index: number; pending?: string }): string {
  if (frame.names === undefined) return `${frame.path}[${frame.index}]`;
  return frame.path === '' ? (frame.pending ?? '') : `${frame.path}.${frame.pending ?? ''}`;
}

/**
 * Parses a JSON request body; an empty body is no message at all (grpc-gateway reads it as an empty one).
 *
 * @throws a `PortcullisError` (`INVALID_ARGUMENT`, HTTP 400): Flipt's `invalid values for key(s) in json body` for
 * text that is not JSON, or a message naming a name given twice and the object it was given in.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, 'invalid values for key(s) in json body');
  }
  const duplicate = duplicateName(text);
  if (duplicate !== undefined) {
    const where = duplicate.path === '' ? 'the request body' : duplicate.path;
    throw new PortcullisError(
      ErrorCodes.INVALID_ARGUMENT,
      `invalid values for key(s) in json body: ${JSON.stringify(duplicate.name)} is given twice in ${where}`,
    );
  }
  return value;
}
