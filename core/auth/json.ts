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
      Object.entries(authentication.metadata).sort(([a], [b]) => goKeyOrder(a, b)),
    ),
  };
}

const ASTRAL_OR_SURROGATE = /[\ud800-\udfff]/;

/**
 * Key order as Go sorts map keys (`encoding/json`, protojson): by their UTF-8 bytes. That is the order of UTF-16
 * code units (`<`) but for a character past U+FFFF, which UTF-16 writes from U+D800 and UTF-8 after U+FFFF.
 */
const goKeyOrder = (a: string, b: string) =>
  ASTRAL_OR_SURROGATE.test(a) || ASTRAL_OR_SURROGATE.test(b)
    ? Buffer.compare(Buffer.from(a), Buffer.from(b))
    : a < b
      ? -1
      : a > b
        ? 1
        : 0;

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  // fromEntries defines each key as an own property: assigning `sorted['__proto__'] = ...` would set the object's
  // prototype instead, and a claim named `__proto__` would vanish from the JSON.
  return Object.fromEntries(
    Object.keys(value)
      .sort(goKeyOrder)
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

/**
 * Printable ASCII that JSON writes as it is and Go's HTML escaping leaves alone: not `"`, `\\`, `<`, `>` or `&`. Most
 * claims are only that, and are written between quotes without JSON.stringify.
 */
const PLAIN_TEXT = /^[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7e]*$/;

const GO_HTML_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** Go's HTML escaping of JSON text: `<`, `>`, `&`, U+2028 and U+2029 as `\\u` escapes. */
const goEscaped = (json: string) => json.replace(/[<>&\u2028\u2029]/g, (c) => GO_HTML_ESCAPES[c] ?? c);

/**
 * A string as Go writes one it decoded: a lone surrogate (`"\\ud800"`, which JSON.parse keeps) was decoded to U+FFFD
 * (encoding/json's unquote: "Invalid surrogate; fall back to replacement rune"), written as itself; HTML-escaped.
 */
const goString = (text: string) => {
  if (PLAIN_TEXT.test(text)) return `"${text}"`;
  const wellFormed = text as string & { isWellFormed(): boolean; toWellFormed(): string };
  return goEscaped(JSON.stringify(wellFormed.isWellFormed() ? text : wellFormed.toWellFormed()));
};

/** A value {@link sortedJson} does not write itself (not what `JSON.parse` makes): the slower way writes it. */
const NOT_PLAIN = Symbol('not plain JSON');

/**
 * `JSON.stringify(sortKeys(value))` written in one pass for what `JSON.parse` makes (a JWT's claims, on every
 * first-seen token), without a sorted copy of every object. Throws {@link NOT_PLAIN} on anything else.
 */
function sortedJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return goString(value);
    case 'number':
      // Go writes float64 -0 as "-0" (strconv's 'f' format); JSON.stringify writes 0.
      return Object.is(value, -0) ? '-0' : JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i++) text += `${i === 0 ? '' : ','}${sortedJson(value[i])}`;
        return `${text}]`;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) throw NOT_PLAIN;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      // Sorted by code unit (sort()'s own order, without a comparator to call) unless a key needs goKeyOrder's bytes.
      if (keys.some((key) => ASTRAL_OR_SURROGATE.test(key))) keys.sort(goKeyOrder);
      else keys.sort();
      let text = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        text += `${i === 0 ? '' : ','}${goString(key)}:${sortedJson(record[key])}`;
      }
      return `${text}}`;
    }
    default:
      throw NOT_PLAIN;
  }
}

/**
 * JSON as Go's `json.Marshal` writes decoded JSON (`map[string]any`): object keys sorted at every level, and `<`,
 * `>`, `&`, U+2028 and U+2029 escaped. Flipt puts claims in metadata this way (`io.flipt.auth.claims`), so the
 * same claims give the same string on either server.
 */
export function goJson(value: unknown): string {
  try {
    return sortedJson(value);
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
    return goEscaped(JSON.stringify(sortKeys(value)));
  }
}
