import { quoteValue, valueText } from '../config/describe-value.ts';

/** A parsed `${secret:provider:path}` or `${secret:provider:path:key}` reference. */
export interface SecretReference {
  /** The reference as written, which is also how messages name it. */
  readonly raw: string;
  readonly provider: string;
  readonly path: string;
  /** Set for the three-part form; selects a field of a structured secret. */
  readonly key?: string;
}

/** Either a reference, or why a value that looks like one is not. */
export type ParsedReference = { ok: true; reference: SecretReference } | { ok: false; message: string };

const LOOKS_LIKE_REFERENCE = /^\$\{secret:([\s\S]*)\}$/;
// Flipt allows letters, digits, _ : / -; "." is added so that file names with extensions can be named.
const ALLOWED = /^[A-Za-z0-9_:/.-]+$/;

/** Whether a whole value is written as a secret reference (well-formed or not). */
export function isSecretReference(value: unknown): boolean {
  return typeof value === 'string' && LOOKS_LIKE_REFERENCE.test(value);
}

/**
 * Parses a value that is written as a secret reference. A value that only looks like one (`${secret:a b}`)
 * is an error rather than a literal: silently using the text as a credential would be a trap.
 */
export function parseSecretReference(raw: string): ParsedReference | undefined {
  const inner = LOOKS_LIKE_REFERENCE.exec(raw)?.[1];
  if (inner === undefined) return undefined;
  // The reference is what the message is about (it is no secret), so it is shown, escaped and cut as any value is.
  const shown = quoteValue(raw);
  if (!ALLOWED.test(inner)) {
    return {
      ok: false,
      message: `invalid secret reference ${shown}: only letters, digits and _ : / . - may follow "\${secret:"`,
    };
  }
  const parts = inner.split(':');
  if (parts.length === 1) {
    return {
      ok: false,
      message: `invalid secret reference ${shown}: provider is required, as in \${secret:file:${valueText(inner)}}`,
    };
  }
  if (parts.length > 3) {
    return {
      ok: false,
      message: `invalid secret reference format ${shown}, expected 'provider:key' or 'provider:path:key'`,
    };
  }
  if (parts.some((part) => part === '')) {
    return {
      ok: false,
      message: `invalid secret reference ${shown}: provider, path and key must not be empty`,
    };
  }
  const [provider = '', path = '', key] = parts;
  return { ok: true, reference: key === undefined ? { raw, provider, path } : { raw, provider, path, key } };
}
