import { CST } from 'yaml';
import { MAX_NESTING, type Path } from './tree.ts';

/** The first collection nested deeper than {@link MAX_NESTING}: where it starts and the keys leading to it. */
export interface TooDeep {
  readonly offset: number;
  readonly path: Path;
}

/**
 * Finds nesting deeper than {@link MAX_NESTING} in the parser's tokens, before the YAML library builds its node
 * tree: that step recurses once per level and exhausts the stack at a few hundred levels. The parser keeps its own
 * stack, so its tokens are safe to read, and this walk stops at the limit, so its recursion is bounded too.
 */
export function findTooDeep(tokens: Iterable<CST.Token>): TooDeep | undefined {
  for (const token of tokens) {
    if (token.type !== 'document') continue;
    const found = visit(token.value, 0, []);
    if (found !== undefined) return found;
  }
  return undefined;
}

function visit(token: CST.Token | null | undefined, depth: number, path: Path): TooDeep | undefined {
  if (!CST.isCollection(token)) return undefined;
  if (depth >= MAX_NESTING) return { offset: token.offset, path };
  const items: readonly CST.CollectionItem[] = token.items;
  for (const [index, item] of items.entries()) {
    // A collection written as a key is refused later, but the library builds it first, so it counts here.
    const inKey = visit(item.key, depth + 1, path);
    if (inKey !== undefined) return inKey;
    const segment = token.type === 'block-seq' || isFlowSequence(token) ? index : keyText(item.key);
    const inValue = visit(item.value, depth + 1, [...path, segment]);
    if (inValue !== undefined) return inValue;
  }
  return undefined;
}

function isFlowSequence(token: CST.Token): boolean {
  return token.type === 'flow-collection' && token.start.source === '[';
}

/**
 * A key's text for the path of a message; a key that is not a plain scalar is shown as `?`. A malformed key (`,a`)
 * is not this walk's to report (the composer reports it, located): without `onError` the library would throw.
 */
function keyText(key: CST.Token | null | undefined): string {
  return CST.resolveAsScalar(key, true, () => undefined)?.value ?? '?';
}
