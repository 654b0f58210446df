/**
 * Blocks whose text settings hold unresolved `${secret:…}` references, as `validate` sees them before resolution.
 */
import {
  childSchema,
  deref,
  isStringMap,
  rootCursor,
  type SchemaCursor,
  schemaTypes,
} from '../../core/config/schema-walk.ts';
import type { JsonSchema } from '../../core/plugins/contracts.ts';

/** What {@link withReferences} made: the block, and the paths (dotted) now holding a reference. */
export interface ReferencedBlock {
  readonly block: Record<string, unknown>;
  readonly replaced: readonly string[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Whether the schema at `cursor` is a text setting, where portcullis resolves a reference: a plain string, with
 * no `enum`, `const`, `pattern` or `format` (a duration, a URL checked by the schema) and no alternatives.
 */
function isTextSetting(cursor: SchemaCursor | undefined): boolean {
  if (cursor === undefined) return false;
  const { schema } = deref(cursor);
  const constrained = ['enum', 'const', 'pattern', 'format', 'anyOf', 'oneOf', 'allOf'].some(
    (k) => k in schema,
  );
  return !constrained && schemaTypes(cursor).join() === 'string';
}

/**
 * Replaces every string of `block` that sits in a text setting of `schema` with
 * `${secret:<provider>:conformance/<path>}` (values of plain string maps, which portcullis keeps literal, are left
 * alone).
 */
export function withReferences(
  block: Readonly<Record<string, unknown>>,
  schema: JsonSchema,
  provider: string,
): ReferencedBlock {
  const replaced: string[] = [];
  const walk = (value: unknown, cursor: SchemaCursor | undefined, path: string[]): unknown => {
    if (typeof value === 'string') {
      if (!isTextSetting(cursor)) return value;
      replaced.push(path.join('.'));
      const name = path.map((p) => p.replace(/[^A-Za-z0-9_-]/g, '_')).join('/');
      return `\${secret:${provider}:conformance/${name}}`;
    }
    if (Array.isArray(value)) {
      return value.map((item, i) => walk(item, cursor && childSchema(cursor, i), [...path, String(i)]));
    }
    if (isObject(value)) {
      if (cursor !== undefined && isStringMap(cursor)) return value;
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [
          key,
          walk(item, cursor && childSchema(cursor, key), [...path, key]),
        ]),
      );
    }
    return value;
  };
  const result = walk(block, rootCursor(schema), []) as Record<string, unknown>;
  return { block: result, replaced };
}
