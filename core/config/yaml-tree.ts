import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type Node,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { describeValue, escapeControls, quoteValue } from './describe-value.ts';
import type { Position } from './source.ts';
import { isRecord, isSafeKey, MAX_NESTING, type Path, RECURSIVE, TOO_DEEP } from './tree.ts';

/** A problem found while building the value tree, at an offset in the text. */
export interface TreeProblem {
  readonly path: Path;
  readonly message: string;
  readonly offset: number;
}

/** A document's plain value tree, what is wrong with it, and what each alias stands for. */
export interface DocumentTree {
  readonly value: unknown;
  readonly problems: readonly TreeProblem[];
  /** The node each alias names, so that locating a path through an alias needs no search of the document. */
  readonly aliasTargets: ReadonlyMap<Alias, Node>;
}

/**
 * How many values aliases may add to the tree, all aliases together. Anchors let a short text stand for an
 * enormous tree (the "billion laughs"); a configuration that shares a block or two stays far below this.
 */
export const MAX_ALIASED_VALUES = 100_000;

/** A built value, its height (levels of mappings and lists) and size (values counted), for alias limits. */
interface Built {
  readonly value: unknown;
  readonly height: number;
  readonly size: number;
}

const NOTHING: Built = { value: null, height: 0, size: 1 };

/**
 * The text a scalar key stands for, as Flipt reads it: a string as it is, a number or a boolean as written
 * (`1.0`, `0x10`, `true`: Go's YAML reader gives a string key the source text); `undefined` for null, for a
 * merge key (`<<`) and for anything else.
 */
export function scalarKeyText(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  const { value } = key;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean')
    return typeof key.source === 'string' ? key.source : String(value);
  return undefined;
}

/** Whether a map key is YAML's merge key (a plain `<<`; a quoted one is an ordinary key). */
export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol';
}

function start(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

/**
 * Builds the plain value tree of a parsed document, refusing what the rest of portcullis could not take as a
 * configuration, each problem at its place:
 * - a key that is not text (a list, a mapping, null) or that would reach an object's prototype (`__proto__`);
 *   numbers and booleans as keys are text, as in Flipt;
 * - a key written twice in one mapping;
 * - an alias without an anchor before it, one inside its own anchor, one that would nest deeper than
 *   {@link MAX_NESTING} levels, and aliases adding more than {@link MAX_ALIASED_VALUES} values;
 * - a merge key (`<<`) whose value is not a mapping or a list of mappings.
 * Anchored values are built once and shared, so the work is linear in the size of the text. Nesting written out
 * is checked before the document is built (yaml-depth.ts), so the recursion here is bounded.
 */
export function buildTree(doc: Document.Parsed, position: (offset: number) => Position): DocumentTree {
  const problems: TreeProblem[] = [];
  const anchors = new Map<string, Node>();
  const built = new Map<Node, Built | 'building'>();
  const aliasTargets = new Map<Alias, Node>();
  let aliased = 0;
  const problem = (path: Path, message: string, offset: number | undefined) => {
    problems.push({ path, message, offset: offset ?? 0 });
  };

  /** `entry` is where the value's entry (its key, or the list item) starts: where a problem with it is shown. */
  const build = (node: unknown, path: Path, depth: number, entry = start(node)): Built => {
    if (isAlias(node)) return alias(node, path, depth, entry);
    if (!isNode(node)) return NOTHING;
    const { anchor } = node;
    if (anchor !== undefined) {
      anchors.set(anchor, node);
      built.set(node, 'building');
    }
    let result = NOTHING;
    if (isMap(node)) result = mapping(node, path, depth);
    else if (isSeq(node)) result = list(node, path, depth);
    else if (isScalar(node) && ['string', 'number', 'boolean'].includes(typeof node.value))
      result = { value: node.value, height: 0, size: 1 };
    if (anchor !== undefined) built.set(node, result);
    return result;
  };

  const alias = (node: Alias, path: Path, depth: number, offset: number | undefined): Built => {
    const name = escapeControls(node.source);
    const target = anchors.get(node.source);
    if (target === undefined) {
      problem(path, `invalid YAML: the alias *${name} names no anchor (&${name}) written before it`, offset);
      return NOTHING;
    }
    aliasTargets.set(node, target);
    const made = built.get(target);
    if (made === undefined || made === 'building') {
      problem(path, RECURSIVE, offset);
      return NOTHING;
    }
    if (depth + made.height > MAX_NESTING) {
      problem(path, `${TOO_DEEP} (through the alias *${name})`, offset);
      return NOTHING;
    }
    aliased += made.size;
    if (aliased > MAX_ALIASED_VALUES) {
      // Said once: every alias after this one is over the limit too.
      if (aliased - made.size <= MAX_ALIASED_VALUES) {
        problem(
          path,
          `invalid YAML: aliases add more than ${MAX_ALIASED_VALUES} values to the configuration; write the values out instead`,
          offset,
        );
      }
      return NOTHING;
    }
    return made;
  };

  /** The text of a key, or `undefined` (with the problem reported) when it is not text. */
  const keyOf = (key: unknown, path: Path, depth: number, offset: number | undefined): string | undefined => {
    const keyBuilt = build(key, path, depth + 1);
    const node = isAlias(key) ? aliasTargets.get(key) : key;
    // An alias that names no anchor has been reported already.
    if (isAlias(key) && node === undefined) return undefined;
    const text = scalarKeyText(node);
    if (text !== undefined) return text;
    const empty = isScalar(node) && node.source === '';
    problem(
      path,
      `a key must be text; got ${empty || key === null ? 'nothing' : describeValue(keyBuilt.value)}`,
      offset,
    );
    return undefined;
  };

  const mapping = (node: YAMLMap, path: Path, depth: number): Built => {
    const value: Record<string, unknown> = {};
    const seen = new Map<string, number>();
    const merges: unknown[] = [];
    let height = 1;
    let size = 1;
    const add = (child: Built, levels: number) => {
      height = Math.max(height, child.height + levels);
      size += child.size;
    };
    for (const { key, value: item } of node.items) {
      const offset = start(key) ?? start(item) ?? start(node);
      if (isMergeKey(key)) {
        merges.push(item);
        continue;
      }
      const text = keyOf(key, path, depth, offset);
      const childPath = text === undefined ? path : [...path, text];
      if (text !== undefined && !isSafeKey(text)) {
        problem(childPath, `the key "${text}" is not allowed`, offset);
      } else if (text !== undefined && seen.has(text)) {
        const first = position(seen.get(text) ?? 0);
        problem(
          childPath,
          `invalid YAML: the key ${quoteValue(text)} is written twice in this mapping (first at ${first.line}:${first.col})`,
          offset,
        );
      } else if (text !== undefined) {
        seen.set(text, offset ?? 0);
        const child = build(item, childPath, depth + 1, offset);
        value[text] = child.value;
        add(child, 1);
        continue;
      }
      // Refused keys: their values are still read, for the anchors and the problems inside them.
      build(item, childPath, depth + 1, offset);
    }
    for (const merge of merges) {
      for (const source of mergeSources(merge, path, depth)) {
        // Keys written in the mapping win over merged ones, and earlier merged mappings over later ones.
        for (const [key, child] of Object.entries(source.value as Record<string, unknown>)) {
          if (!Object.hasOwn(value, key)) value[key] = child;
        }
        add(source, 0);
      }
    }
    return { value, height, size };
  };

  /** The mappings a merge key's value brings: a mapping, or a list of mappings (aliases or written out). */
  const mergeSources = (merge: unknown, path: Path, depth: number): Built[] => {
    const items = isSeq(merge) && merge.anchor === undefined ? merge.items : [merge];
    const sources: Built[] = [];
    for (const item of items) {
      const source = build(item, path, depth);
      if (isRecord(source.value)) {
        sources.push(source);
      } else if (source !== NOTHING || !isAlias(item)) {
        problem(
          path,
          `invalid YAML: a merge key (<<) takes a mapping or a list of mappings; got ${describeValue(source.value)}`,
          start(item) ?? start(merge),
        );
      }
    }
    return sources;
  };

  const list = (node: YAMLSeq, path: Path, depth: number): Built => {
    const value: unknown[] = [];
    let height = 1;
    let size = 1;
    for (const [index, item] of node.items.entries()) {
      const child = build(item, [...path, index], depth + 1);
      value.push(child.value);
      height = Math.max(height, child.height + 1);
      size += child.size;
    }
    return { value, height, size };
  };

  const root = build(doc.contents, [], 0);
  return { value: root.value, problems, aliasTargets };
}
