/**
 * How a configuration message names the value it refuses (`must be one of: single, cluster; got "sentinel"`).
 * A message is read in a CI log or a Kubernetes event, far from the file, so it says what was found, but:
 * - a string is quoted as JSON, a number, boolean or null written as JSON, a list or a mapping only described;
 * - a string longer than {@link VALUE_LIMIT} characters is cut there, with `…` and its length;
 * - control, line-separating and bidirectional characters are escaped, so that a message stays on one line;
 * - a credential is never repeated, only its kind and length: a setting whose schema says `writeOnly: true` (JSON
 *   Schema's own mark for a password), or a block holding one (see `CredentialMap` in credentials.ts).
 * Secret values never reach a message: references are resolved after every check of the configuration has run,
 * so a check sees the reference (`${secret:file:x}`), which names where a secret is kept, not the secret; callers
 * show a whole reference as written even where a credential goes.
 */
import { isRecord } from './tree.ts';

/**
 * Characters of a string value shown before it is cut: a URL or a `${secret:...}` reference fits whole, and a
 * message stays short enough to read on one line of a log.
 */
export const VALUE_LIMIT = 64;

/** C0 and C1 controls, lone surrogates, and characters that break or reorder a line. */
const UNSAFE = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/gu;
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
};

/** `text` with every character that could break or reorder a line written as a JSON escape (`\n`, `\u202e`). */
export function escapeControls(text: string): string {
  return text.replace(
    UNSAFE,
    (char) => SHORT_ESCAPES[char] ?? `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/** `text` cut to `limit` characters (code points, so a character is never split), with `…` when it was cut. */
function shorten(text: string, limit: number): { text: string; length: number; cut: boolean } {
  const chars = Array.from(text);
  if (chars.length <= limit) return { text, length: chars.length, cut: false };
  return { text: `${chars.slice(0, limit).join('')}…`, length: chars.length, cut: true };
}

/** A string as JSON quotes it (with the extra escapes of {@link escapeControls}), cut when long. */
export function quoteValue(text: string, limit = VALUE_LIMIT): string {
  const short = shorten(text, limit);
  const quoted = `"${escapeControls(short.text.replace(/["\\]/g, '\\$&'))}"`;
  return short.cut ? `${quoted} (${short.length} characters)` : quoted;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** A list or a mapping in words: its kind and size, never its contents. */
function describeContainer(value: readonly unknown[] | Record<string, unknown>): string {
  if (Array.isArray(value))
    return value.length === 0 ? 'an empty list' : `a list of ${count(value.length, 'item')}`;
  const keys = Object.keys(value).length;
  return keys === 0 ? 'an empty mapping' : `a mapping with ${count(keys, 'key')}`;
}

/** A credential in words: what kind of value it is and how long, never what it says. */
function describeCredential(value: unknown): string {
  if (typeof value === 'string')
    return value === '' ? 'an empty value' : `a value of ${count(Array.from(value).length, 'character')}`;
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return describeValue(value);
}

/** How to show a value: `credential` when it must not be repeated (see {@link isCredentialSchema}). */
export interface ShowOptions {
  readonly credential?: boolean;
}

/**
 * A value as a message names it after `got`: `"sentinel"`, `42`, `true`, `null`, `a list of 2 items`,
 * `a mapping with 1 key`; a credential as `a value of 12 characters`.
 */
export function describeValue(value: unknown, options: ShowOptions = {}): string {
  if (options.credential === true) return describeCredential(value);
  if (typeof value === 'string') return quoteValue(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value) || isRecord(value)) return describeContainer(value);
  return 'nothing';
}

/**
 * A value as a message template's `{value}` shows it: a string as it is (escaped, not quoted), as in Flipt's own
 * messages (`invalid version: 1.0`), cut as {@link quoteValue} cuts it (`…` and its length); anything else as
 * {@link describeValue} does.
 */
export function valueText(value: unknown, options: ShowOptions = {}): string {
  if (typeof value !== 'string' || options.credential === true) return describeValue(value, options);
  const short = shorten(value, VALUE_LIMIT);
  const text = escapeControls(short.text);
  return short.cut ? `${text} (${short.length} characters)` : text;
}

/**
 * `text` (a message from elsewhere, such as an error of Node's or of a library) with every mention of `value` in it
 * escaped and cut as {@link valueText} does, so that a long value is not repeated in full through it.
 */
export function mentioning(text: string, value: string): string {
  return value === '' ? text : text.split(value).join(valueText(value));
}
