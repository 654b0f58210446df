import type { Authentication } from '../plugins/contracts.ts';

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

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Reads an RFC 3339 timestamp as protojson accepts one; `undefined` when it is not one. */
export function parseTimestamp(text: string): Date | undefined {
  if (!RFC3339.test(text)) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
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
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return sorted;
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
