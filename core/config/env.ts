import { childSchema, mapValueSchema, propertyNames, type SchemaCursor, schemaTypes } from './schema-walk.ts';
import { isRecord, isSafeKey, type Path, setAt } from './tree.ts';

type Env = Readonly<Record<string, string | undefined>>;

const ENV_REFERENCE = /^\$\{env:([a-zA-Z_][a-zA-Z0-9_]*)\}$/;

/** The environment variable behind a `${env:NAME}` value, if the whole value is one. */
export function envReferenceName(value: string): string | undefined {
  return ENV_REFERENCE.exec(value)?.[1];
}

/**
 * The variable `name`, read as an own property only: `${env:constructor}` names a variable, never something an
 * object inherits (`process.env.constructor` is a function).
 */
export function readEnv(env: Env, name: string): string | undefined {
  return Object.hasOwn(env, name) ? env[name] : undefined;
}

/** A value that came from the environment, for messages that point at where it was set. */
export interface EnvSourced {
  readonly path: Path;
  readonly variable: string;
}

/**
 * Replaces every string that is exactly `${env:NAME}` with the variable's value, or `""` when it is unset, as
 * Flipt does. Anything else (a reference inside a longer string, v1's `${NAME}`) is left as written.
 */
export function substituteEnvReferences(
  tree: unknown,
  env: Env,
): { tree: unknown; references: EnvSourced[] } {
  const references: EnvSourced[] = [];
  const visit = (value: unknown, path: Path): unknown => {
    if (typeof value === 'string') {
      const name = envReferenceName(value);
      if (name === undefined) return value;
      references.push({ path, variable: name });
      return readEnv(env, name) ?? '';
    }
    if (Array.isArray(value)) return value.map((item, i) => visit(item, [...path, i]));
    if (isRecord(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v, [...path, k])]));
    }
    return value;
  };
  return { tree: visit(tree, []), references };
}

interface Match {
  readonly path: Path;
}

/**
 * Matches the rest of a `FLIPT_` variable name against the schema the way Flipt's `bindEnvVars` does: field
 * names are upper-cased and joined with `_`; for a map of objects, the map key is the text before the first
 * `_<FIELD>` of one of the object's fields; for a map of plain values, the key is the whole remainder.
 * Only leaves (scalars and lists) can be set.
 */
function matchVariable(
  cursor: SchemaCursor,
  rest: string,
  path: Path,
  tree: unknown,
  keys: KeyIndex,
): Match | undefined {
  const fields = propertyNames(cursor).sort((a, b) => b.length - a.length);
  if (fields.length > 0) {
    for (const field of fields) {
      const upper = field.toUpperCase();
      const child = childSchema(cursor, field);
      if (child === undefined) continue;
      if (rest === upper) {
        if (isLeaf(child)) return { path: [...path, field] };
        continue;
      }
      if (rest.startsWith(`${upper}_`)) {
        const found = matchVariable(
          child,
          rest.slice(upper.length + 1),
          [...path, field],
          get(tree, field),
          keys,
        );
        if (found) return found;
      }
    }
    return undefined;
  }

  const value = mapValueSchema(cursor);
  if (value === undefined) return undefined;
  const valueFields = propertyNames(value);
  if (valueFields.length === 0) {
    const key = mapKey(tree, rest, keys);
    if (rest === '' || key === undefined || !isLeaf(value)) return undefined;
    return { path: [...path, key] };
  }
  for (const field of valueFields) {
    const at = rest.indexOf(`_${field.toUpperCase()}`);
    if (at <= 0) continue;
    const key = mapKey(tree, rest.slice(0, at), keys);
    if (key === undefined) continue;
    const found = matchVariable(value, rest.slice(at + 1), [...path, key], get(tree, key), keys);
    if (found) return found;
  }
  return undefined;
}

/**
 * A map key named in a variable. Flipt lowercases it; portcullis keeps the case of keys written in the file,
 * so a variable overrides an existing entry whatever its case, and names a new entry in lower case.
 */
function mapKey(tree: unknown, upperKey: string, keys: KeyIndex): string | undefined {
  // A key that may not be written (`__proto__`) is still matched, to be refused where the variable is applied.
  if (!isSafeKey(upperKey.toLowerCase())) return upperKey.toLowerCase();
  if (isRecord(tree)) {
    const existing = keys.of(tree).get(upperKey.toUpperCase());
    if (existing !== undefined) return existing;
  }
  return upperKey.toLowerCase();
}

/**
 * Each mapping's keys by their upper-cased form (the first key of each form, in key order), made once per mapping
 * and kept up to date as variables add keys: looking through every key for every variable would be quadratic.
 */
class KeyIndex {
  readonly #indexes = new WeakMap<object, Map<string, string>>();

  of(tree: Record<string, unknown>): Map<string, string> {
    let index = this.#indexes.get(tree);
    if (index === undefined) {
      index = new Map();
      for (const key of Object.keys(tree)) {
        const upper = key.toUpperCase();
        if (!index.has(upper)) index.set(upper, key);
      }
      this.#indexes.set(tree, index);
    }
    return index;
  }

  /** Records the keys along `path` (just set in `tree`) in the indexes already made. */
  added(tree: Record<string, unknown>, path: Path): void {
    let node: unknown = tree;
    for (const segment of path) {
      if (!isRecord(node)) return;
      const index = this.#indexes.get(node);
      const key = String(segment);
      if (index !== undefined && !index.has(key.toUpperCase())) index.set(key.toUpperCase(), key);
      node = Object.hasOwn(node, key) ? node[key] : undefined;
    }
  }
}

function isLeaf(cursor: SchemaCursor): boolean {
  const types = schemaTypes(cursor);
  return types.length > 0 && !types.includes('object');
}

function get(tree: unknown, key: string): unknown {
  return isRecord(tree) && Object.hasOwn(tree, key) ? tree[key] : undefined;
}

/**
 * Applies `FLIPT_*` variables over the file, as Flipt's viper does: `FLIPT_` + the upper-cased path joined
 * with `_`, environment beats file. Values stay strings here; they are typed against the schema later,
 * like every other value. Variables that name nothing in the schema are ignored, as in Flipt.
 */
export function applyEnvOverrides(
  tree: Record<string, unknown>,
  schema: SchemaCursor,
  env: Env,
): { tree: Record<string, unknown>; sources: EnvSourced[]; refused: EnvSourced[] } {
  const result = structuredClone(tree);
  const sources: EnvSourced[] = [];
  const refused: EnvSourced[] = [];
  const keys = new KeyIndex();
  // viper ignores variables that are set but empty; so does this.
  const names = Object.keys(env)
    .filter((name) => name.startsWith('FLIPT_') && env[name] !== undefined && env[name] !== '')
    .sort();
  for (const name of names) {
    const match = matchVariable(schema, name.slice('FLIPT_'.length), [], result, keys);
    if (match === undefined) continue;
    // The rule of a file: a key that would reach an object's prototype is refused, never dropped in silence.
    const unsafe = match.path.findIndex((segment) => typeof segment === 'string' && !isSafeKey(segment));
    if (unsafe >= 0) {
      refused.push({ path: match.path.slice(0, unsafe + 1), variable: name });
      continue;
    }
    const raw = env[name] as string;
    const referenced = envReferenceName(raw);
    const value = referenced === undefined ? raw : (readEnv(env, referenced) ?? '');
    if (setAt(result, match.path, value)) {
      keys.added(result, match.path);
      sources.push({ path: match.path, variable: name });
    }
  }
  return { tree: result, sources, refused };
}
