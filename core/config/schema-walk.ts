import type { JsonSchema } from '../plugins/contracts.ts';

/**
 * A position in an assembled schema. `base` is the nearest enclosing resource (a node with `$id`, or the
 * root), against which a local `$ref` such as `#/definitions/provider` resolves: each plugin fragment keeps its
 * own definitions.
 */
export interface SchemaCursor {
  readonly schema: JsonSchema;
  readonly base: JsonSchema;
}

export function rootCursor(schema: JsonSchema): SchemaCursor {
  return { schema, base: schema };
}

function asSchema(value: unknown): JsonSchema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonSchema)
    : undefined;
}

/** Follows `$ref` (local JSON pointers only) and records `$id` boundaries. */
export function deref(cursor: SchemaCursor): SchemaCursor {
  let { schema, base } = cursor;
  for (let hops = 0; hops < 32; hops++) {
    if (typeof schema.$id === 'string') base = schema;
    const ref = schema.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#')) return { schema, base };
    let target: unknown = base;
    for (const raw of ref.slice(1).split('/').slice(1)) {
      const part = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      target = asSchema(target)?.[part];
    }
    const next = asSchema(target);
    if (next === undefined) return { schema, base };
    schema = next;
  }
  return { schema, base };
}

/** The schema of `key` inside the value described by `cursor`, if the schema says anything about it. */
export function childSchema(cursor: SchemaCursor, key: string | number): SchemaCursor | undefined {
  const { schema, base } = deref(cursor);
  const wrap = (s: unknown): SchemaCursor | undefined => {
    const child = asSchema(s);
    return child === undefined ? undefined : deref({ schema: child, base });
  };
  if (typeof key === 'number') return wrap(schema.items);
  const properties = asSchema(schema.properties);
  if (properties && Object.hasOwn(properties, key)) return wrap(properties[key]);
  const patterns = asSchema(schema.patternProperties);
  if (patterns) {
    for (const [pattern, child] of Object.entries(patterns)) {
      if (new RegExp(pattern, 'u').test(key)) return wrap(child);
    }
  }
  return wrap(schema.additionalProperties);
}

/** The `type` keyword as a list (`[]` when absent). */
export function schemaTypes(cursor: SchemaCursor): string[] {
  const { type } = deref(cursor).schema;
  if (typeof type === 'string') return [type];
  return Array.isArray(type) ? type.filter((t): t is string => typeof t === 'string') : [];
}

/** Named properties of an object schema, in declaration order. */
export function propertyNames(cursor: SchemaCursor): string[] {
  const properties = asSchema(deref(cursor).schema.properties);
  return properties ? Object.keys(properties) : [];
}

/** Whether the schema describes a map (free keys with one value schema), as opposed to a fixed set of fields. */
export function mapValueSchema(cursor: SchemaCursor): SchemaCursor | undefined {
  const { schema, base } = deref(cursor);
  if (asSchema(schema.properties) && Object.keys(schema.properties as object).length > 0) return undefined;
  const patterns = asSchema(schema.patternProperties);
  const value = patterns ? Object.values(patterns)[0] : schema.additionalProperties;
  const child = asSchema(value);
  return child === undefined ? undefined : deref({ schema: child, base });
}

/** The schema of the value at `path`, following properties, maps and list items. */
export function cursorAt(root: SchemaCursor, path: ReadonlyArray<string | number>): SchemaCursor | undefined {
  let cursor: SchemaCursor | undefined = root;
  for (const segment of path) {
    if (cursor === undefined) return undefined;
    cursor = childSchema(cursor, segment);
  }
  return cursor;
}

/** Whether the schema is a map of plain strings (`additionalProperties: {type: string}`), like token metadata. */
export function isStringMap(cursor: SchemaCursor): boolean {
  const value = mapValueSchema(cursor);
  return value !== undefined && schemaTypes(value).join() === 'string' && propertyNames(value).length === 0;
}
