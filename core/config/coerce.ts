import { durationToMs } from './duration.ts';
import { parseGoBool } from './go-bool.ts';
import { childSchema, deref, type SchemaCursor, schemaTypes } from './schema-walk.ts';
import { isRecord, type Path } from './tree.ts';

/** What typing needs besides the tree, and where it says what it did that an operator may not expect. */
export interface CoercionContext {
  /** The text a scalar was written as, so that `version: 2.0` stays `"2.0"`. */
  readonly scalarSource: (path: Path) => string | undefined;
  /** Receives a note for each list given as a string whose items look comma-separated. */
  readonly notes?: Array<{ path: Path; message: string }>;
}

/**
 * Types a value tree by its schema, the way Flipt decodes configuration:
 * - `null` (an empty YAML value) means "not set", so the key is dropped and its default applies;
 * - strings become booleans (Go's ParseBool forms) and integers where the schema wants them, which is how
 *   `${env:...}` and `FLIPT_*` values (always strings) reach typed fields;
 * - a string where a list of strings is wanted is split on whitespace (`scopes: "email profile"`);
 * - a number or boolean where a string is wanted keeps the text as written (`version: 2.0` stays `"2.0"`).
 * Anything that cannot be typed is left as it is, for the validator to report with its position.
 */
export function coerceToSchema(
  value: unknown,
  cursor: SchemaCursor | undefined,
  context: CoercionContext,
  path: Path = [],
): unknown {
  if (value === null) return undefined;
  if (cursor === undefined) return value;
  const types = schemaTypes(cursor);

  if (Array.isArray(value)) {
    return value.map((item, i) => {
      const typed = coerceToSchema(item, childSchema(cursor, i), context, [...path, i]);
      return typed === undefined ? null : typed;
    });
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const typed = coerceToSchema(child, childSchema(cursor, key), context, [...path, key]);
      // Defined, not assigned: a key named `__proto__` stays a key, never the object's prototype.
      if (typed !== undefined)
        Object.defineProperty(out, key, {
          value: typed,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return out;
  }
  if (typeof value === 'string' && types.includes('array')) {
    const items = value.split(/\s+/).filter((item) => item !== '');
    const commaBound = items.find((item) => item.startsWith(',') || item.endsWith(','));
    if (commaBound !== undefined) {
      context.notes?.push({
        path,
        message: `a list written as a string is split on whitespace only, as in Flipt, so "${commaBound}" keeps its comma; write a YAML list`,
      });
    }
    return coerceToSchema(items, cursor, context, path);
  }
  // An empty string (typically an unset ${env:...}) in a typed setting means "not set", so its default applies.
  const duration = deref(cursor).schema.format === 'go-duration';
  if (value === '' && types.length > 0 && (duration || !types.includes('string'))) return undefined;
  if (types.length === 0 || matchesType(value, types)) return value;

  if (typeof value === 'string') {
    // An own key only: `constructor` is not one of Go's booleans, whatever a plain object inherits.
    // Go's ParseBool, which Flipt's weakly typed decoding uses for strings in boolean fields.
    const flag = types.includes('boolean') ? parseGoBool(value) : undefined;
    if (flag !== undefined) return flag;
    if ((types.includes('integer') || types.includes('number')) && /^[+-]?\d+$/.test(value)) {
      return Number(value);
    }
    if (types.includes('number') && value.trim() !== '' && Number.isFinite(Number(value)))
      return Number(value);
    return value;
  }
  if ((typeof value === 'number' || typeof value === 'boolean') && types.includes('string')) {
    return context.scalarSource(path) ?? String(value);
  }
  return value;
}

function matchesType(value: unknown, types: readonly string[]): boolean {
  if (typeof value === 'number')
    return types.includes('number') || (types.includes('integer') && Number.isInteger(value));
  return types.includes(typeof value);
}

/**
 * Replaces every valid duration (schema `format: go-duration`) with milliseconds, after validation. Invalid
 * ones were reported by the validator and are left as written.
 */
export function convertDurations(value: unknown, cursor: SchemaCursor | undefined): unknown {
  if (cursor === undefined) return value;
  if (deref(cursor).schema.format === 'go-duration') return durationToMs(value) ?? value;
  if (Array.isArray(value)) return value.map((item, i) => convertDurations(item, childSchema(cursor, i)));
  if (isRecord(value)) {
    for (const [key, child] of Object.entries(value))
      value[key] = convertDurations(child, childSchema(cursor, key));
  }
  return value;
}
