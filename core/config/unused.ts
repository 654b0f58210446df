import { childSchema, deref, type SchemaCursor } from './schema-walk.ts';
import { isRecord, type Path } from './tree.ts';

/**
 * Paths written in the configuration whose schema is marked `x-unused`: Flipt settings that portcullis accepts
 * so that a Flipt config loads unchanged, but does not act on.
 */
export function unusedKeys(tree: unknown, cursor: SchemaCursor, path: Path = []): Path[] {
  if (path.length > 0 && deref(cursor).schema['x-unused'] === true) return [path];
  if (!isRecord(tree)) return [];
  return Object.entries(tree).flatMap(([key, value]) => {
    const child = childSchema(cursor, key);
    return child === undefined ? [] : unusedKeys(value, child, [...path, key]);
  });
}
