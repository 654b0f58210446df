/**
 * Reading identity claims: JSON Pointers (RFC 6901) into a claim set, as the `claims_mapping` settings of the oidc
 * and jwt methods use them.
 */

/** Pointers read so far, as their reference tokens (`~1` and `~0` undone): they come from configuration, a few. */
const parsedPointers = new Map<string, readonly string[]>();
const MAX_PARSED_POINTERS = 1000;

function referenceTokens(pointer: string): readonly string[] {
  let tokens = parsedPointers.get(pointer);
  if (tokens === undefined) {
    tokens = pointer
      .slice(1)
      .split('/')
      .map((raw) => raw.replaceAll('~1', '/').replaceAll('~0', '~'));
    if (parsedPointers.size < MAX_PARSED_POINTERS) parsedPointers.set(pointer, tokens);
  }
  return tokens;
}

const ARRAY_INDEX = /^(0|[1-9]\d*)$/;

/** The value `pointer` designates in `document`, or `undefined` when the pointer is malformed or leads nowhere. */
export function resolvePointer(document: unknown, pointer: string): unknown {
  if (pointer === '') return document;
  if (!pointer.startsWith('/')) return undefined;
  let current: unknown = document;
  for (const token of referenceTokens(pointer)) {
    if (Array.isArray(current)) {
      if (!ARRAY_INDEX.test(token)) return undefined;
      current = current[Number(token)];
    } else if (typeof current === 'object' && current !== null && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  return current;
}

/** A claim as metadata text: strings as they are, numbers and booleans written out, anything else `undefined`. */
export function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
