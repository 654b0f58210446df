import type { Authentication } from '../plugins/contracts.ts';
import { readTimestamp } from './timestamp.ts';

/** An authentication as Flipt's API writes it (protojson: camelCase, unset fields omitted). */
export interface AuthenticationJson {
  id: string;
  method: string;
  expiresAt?: string;
  createdAt?: string;
  updatedAt?: string;
  metadata: Record<string, string>;
}

/** RFC 3339 in UTC as protojson writes a Timestamp: no fraction when it is zero, else milliseconds. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/**
 * Reads an RFC 3339 timestamp as protojson accepts one ({@link readTimestamp}); `undefined` when it is not one. For
 * times portcullis wrote itself (stored authentications); a request's times go through `readTimestamp`, whose
 * refusal says why.
 */
export function parseTimestamp(text: string): Date | undefined {
  const reading = readTimestamp(text);
  return 'date' in reading ? reading.date : undefined;
}

/** The JSON of an authentication, fields in Flipt's order. */
export function authenticationJson(authentication: Authentication): AuthenticationJson {
  return {
    id: authentication.id,
    method: authentication.method,
    ...(authentication.expiresAt && { expiresAt: formatTimestamp(authentication.expiresAt) }),
    ...(authentication.createdAt && { createdAt: formatTimestamp(authentication.createdAt) }),
    ...(authentication.updatedAt && { updatedAt: formatTimestamp(authentication.updatedAt) }),
    // protojson writes map entries sorted by key.
    metadata: Object.fromEntries(
      Object.entries(authentication.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  // fromEntries defines each key as an own property: assigning `sorted['__proto__'] = ...` would set the object's
  // prototype instead, and a claim named `__proto__` would vanish from the JSON.
  return Object.fromEntries(
    Object.keys(value)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

const GO_HTML_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * JSON as Go's `json.Marshal` writes decoded JSON (`map[string]any`): object keys sorted at every level, and `<`,
 * `>`, `&`, U+2028 and U+2029 escaped. Flipt puts claims in metadata this way (`io.flipt.auth.claims`), so the
 * same claims give the same string on either server.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(/[<>&\u2028\u2029]/g, (c) => GO_HTML_ESCAPES[c] ?? c);
}
