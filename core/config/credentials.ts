/**
 * Where the configuration holds credentials, read from the schema: a setting whose schema says `writeOnly: true`
 * (JSON Schema's own mark for a password), wherever that mark stands — on the setting, behind a `$ref`, or in one
 * branch of `allOf`, `anyOf`, `oneOf`, `if`/`then`/`else` or `dependentSchemas` — so that no message repeats one.
 */
import type { JsonSchema } from '../plugins/contracts.ts';
import { isSecretReference } from '../references/parse.ts';
import { deref, rootCursor, type SchemaCursor } from './schema-walk.ts';
import { isRecord, type Path } from './tree.ts';

/** A credential written in the configuration, and where. */
export interface CredentialValue {
  readonly path: Path;
  readonly value: string;
}

function asSchema(value: unknown): JsonSchema | undefined {
  return isRecord(value) ? value : undefined;
}

/** Keywords whose subschemas apply to the same value as the schema that holds them. */
const IN_PLACE_LISTS = ['allOf', 'anyOf', 'oneOf'] as const;
const IN_PLACE_ONE = ['if', 'then', 'else'] as const;

/**
 * Every schema that applies to one value: the schema, what its `$ref` points at, and the subschemas of its
 * combinators, recursively (each schema once).
 */
function applicable(start: SchemaCursor): SchemaCursor[] {
  const found: SchemaCursor[] = [];
  const seen = new Set<JsonSchema>();
  const visit = (cursor: SchemaCursor) => {
    // The schema as written (a `$ref` may stand beside other keywords) and what its `$ref` points at.
    for (const each of [cursor, deref(cursor)]) {
      if (seen.has(each.schema)) continue;
      seen.add(each.schema);
      found.push(each);
      const { schema, base } = each;
      const nested = [
        ...IN_PLACE_LISTS.flatMap((k) => (Array.isArray(schema[k]) ? (schema[k] as unknown[]) : [])),
        ...IN_PLACE_ONE.map((k) => schema[k]),
        ...Object.values(asSchema(schema.dependentSchemas) ?? {}),
      ];
      for (const sub of nested) {
        const child = asSchema(sub);
        if (child !== undefined) visit({ schema: child, base });
      }
    }
  };
  visit(start);
  return found;
}

/** The schemas that may apply to the member `key` (a property name or a list index) of a value. */
function memberSchemas(cursor: SchemaCursor, key: string | number): SchemaCursor[] {
  const { schema, base } = cursor;
  const wrap = (s: unknown) => {
    const child = asSchema(s);
    return child === undefined ? [] : [{ schema: child, base }];
  };
  if (typeof key === 'number') {
    const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : undefined;
    const tuple = Array.isArray(schema.items) ? schema.items : prefix;
    if (tuple !== undefined)
      return key < tuple.length ? wrap(tuple[key]) : wrap(prefix ? schema.items : schema.additionalItems);
    return wrap(schema.items);
  }
  const properties = asSchema(schema.properties);
  if (properties !== undefined && Object.hasOwn(properties, key)) return wrap(properties[key]);
  const patterns = Object.entries(asSchema(schema.patternProperties) ?? {}).filter(([pattern]) => {
    try {
      return new RegExp(pattern, 'u').test(key);
    } catch {
      return false;
    }
  });
  if (patterns.length > 0) return patterns.flatMap(([, child]) => wrap(child));
  return wrap(schema.additionalProperties);
}

/** Every subschema a member of the value may have (properties, maps, list items), without following them. */
function allMemberSchemas(cursor: SchemaCursor): SchemaCursor[] {
  const { schema, base } = cursor;
  const subs = [
    ...Object.values(asSchema(schema.properties) ?? {}),
    ...Object.values(asSchema(schema.patternProperties) ?? {}),
    schema.additionalProperties,
    ...(Array.isArray(schema.items) ? schema.items : [schema.items]),
    ...(Array.isArray(schema.prefixItems) ? schema.prefixItems : []),
    schema.additionalItems,
  ];
  return subs.flatMap((sub) => {
    const child = asSchema(sub);
    return child === undefined ? [] : [{ schema: child, base }];
  });
}

const marked = (cursors: readonly SchemaCursor[]) => cursors.some((c) => c.schema.writeOnly === true);

/** Answers, for one assembled schema, where credentials go. */
export class CredentialMap {
  readonly #root: SchemaCursor;
  readonly #holds = new Map<JsonSchema, boolean>();

  constructor(schema: JsonSchema) {
    this.#root = rootCursor(schema);
  }

  /** The schemas that may apply to the value at `path`. */
  schemasAt(path: Path): SchemaCursor[] {
    let cursors = applicable(this.#root);
    for (const segment of path) {
      cursors = cursors.flatMap((c) => memberSchemas(c, segment)).flatMap(applicable);
      if (cursors.length === 0) break;
    }
    return cursors;
  }

  /**
   * Whether a value refused at `path` must not be repeated: a credential goes there, or a block that holds one at
   * any depth (so that a credential written a level or two too high, `tokens: s3cr3t`, is not repeated either).
   */
  isCredentialPlace(path: Path): boolean {
    const cursors = this.schemasAt(path);
    return marked(cursors) || cursors.some((c) => this.#holdsBelow(c));
  }

  /** Whether some member of the value, at any depth, is a credential. */
  #holdsBelow(cursor: SchemaCursor): boolean {
    const known = this.#holds.get(cursor.schema);
    if (known !== undefined) return known;
    // A schema that refers to itself holds a credential only through some other member.
    this.#holds.set(cursor.schema, false);
    const members = allMemberSchemas(cursor).flatMap(applicable);
    const holds = marked(members) || members.some((m) => this.#holdsBelow(m));
    this.#holds.set(cursor.schema, holds);
    return holds;
  }

  /**
   * Every credential written in `tree`: each text at or under a place marked `writeOnly`, and each text written
   * where a block holding a credential goes. A `${secret:...}` reference names where a secret is kept and is not
   * one.
   */
  values(tree: unknown): CredentialValue[] {
    const found: CredentialValue[] = [];
    const collect = (value: unknown, path: Path) => {
      if (typeof value === 'string') {
        if (value !== '' && !isSecretReference(value)) found.push({ path, value });
      } else if (Array.isArray(value)) {
        for (const [i, item] of value.entries()) collect(item, [...path, i]);
      } else if (isRecord(value)) {
        for (const [k, v] of Object.entries(value)) collect(v, [...path, k]);
      }
    };
    const visit = (value: unknown, path: Path, cursors: SchemaCursor[]) => {
      if (cursors.length === 0) return;
      if (marked(cursors)) return collect(value, path);
      if (typeof value === 'string') {
        if (cursors.some((c) => this.#holdsBelow(c))) collect(value, path);
        return;
      }
      const members: Array<[string | number, unknown]> = Array.isArray(value)
        ? value.map((item, i) => [i, item])
        : isRecord(value)
          ? Object.entries(value)
          : [];
      for (const [key, member] of members) {
        visit(member, [...path, key], cursors.flatMap((c) => memberSchemas(c, key)).flatMap(applicable));
      }
    };
    visit(tree, [], applicable(this.#root));
    return found;
  }
}
