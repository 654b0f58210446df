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
