import { ErrorCodes, PortcullisError } from '../errors.ts';

/**
 * The error a secret store raises when a secret or a key inside it does not exist: code `ERR_SECRET_NOT_FOUND`,
 * which the core reports naming the reference and the provider. `message` names the path (and key), never a value.
 */
export function secretNotFound(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.SECRET_NOT_FOUND, message);
}

/** A JSON number as its text was written. */
class WrittenNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/**
 * Selects `key` from a secret whose value is a JSON object (`${secret:provider:path:key}`); without a key the
 * whole value is returned. A string field as it is, a number as written (digits beyond a double's kept), a boolean
 * as its text.
 *
 * @throws `ERR_SECRET_NOT_FOUND` when the value is not a JSON object or has no such own key. Messages name the path
 * and the key, never the value.
 */
export function selectSecretKey(value: string, path: string, key: string | undefined): string {
  if (key === undefined) return value;
  let parsed: unknown;
  try {
    // A number is kept as written (its source text): 12345678901234567890 as a double would be ...7000.
    parsed = JSON.parse(value, (_key, field: unknown, context?: { source?: string }) =>
      typeof field === 'number' && context?.source !== undefined ? new WrittenNumber(context.source) : field,
    );
  } catch {
    throw secretNotFound(`secret at path "${path}" is not a JSON object, so key "${key}" cannot be selected`);
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    parsed instanceof WrittenNumber
  ) {
    throw secretNotFound(`secret at path "${path}" is not a JSON object, so key "${key}" cannot be selected`);
  }
  // An own key only: `constructor` names a field of the secret, never something every object inherits.
  const field = Object.hasOwn(parsed, key) ? (parsed as Record<string, unknown>)[key] : undefined;
  if (typeof field === 'string') return field;
  if (field instanceof WrittenNumber) return field.text;
  if (typeof field === 'number' || typeof field === 'boolean') return String(field);
  throw secretNotFound(`key "${key}" not found in secret at path "${path}"`);
}
