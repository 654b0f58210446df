import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from 'yaml';
import type { LocatedIssue } from '../errors.ts';
import { type Path, treeShapeProblems } from './tree.ts';

/** A 1-based place in the configuration file. */
export interface Position {
  readonly line: number;
  readonly col: number;
}

/** A parsed configuration file that still knows where each value was written. */
export interface ConfigDocument {
  readonly file: string;
  /** The plain value tree (anchors and merge keys resolved). */
  readonly value: Record<string, unknown>;
  /**
   * Where `path` was written: the key of a map entry, or the item of a list. When the path does not exist in the
   * file (a missing required key, a default), the nearest ancestor that does.
   */
  locate(path: Path): Position | undefined;
  /** Where the value at `path` starts; for a value error this is more precise than the key. */
  locateValue(path: Path): Position | undefined;
  /** The text of a scalar exactly as written (`2.0`, `0123`), so a string field keeps what the operator typed. */
  scalarSource(path: Path): string | undefined;
}

/** Result of {@link parseConfigText}: a document, or the syntax problems that prevent one. */
export type ParseResult = { ok: true; doc: ConfigDocument } | { ok: false; issues: LocatedIssue[] };

interface Found {
  readonly node: Node | null;
  /** Offset of the entry: the map key or the list item. */
  readonly entryOffset: number | undefined;
  readonly complete: boolean;
}

const MAX_ALIAS_EXPANSION = 100;

/**
 * Parses YAML (or JSON, which YAML 1.2 contains) with positions. Duplicate keys, syntax errors and a
 * top level that is not a mapping are reported as located issues.
 */
export function parseConfigText(text: string, file: string): ParseResult {
  const lines = new LineCounter();
  // Duplicate keys are found below in linear time; the library's own check compares every pair of keys.
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    merge: true,
    uniqueKeys: false,
  });
  const position = (offset: number): Position => lines.linePos(offset);

  const duplicates = duplicateKeys(doc);
  if (doc.errors.length > 0 || duplicates.length > 0) {
    const located = [
      ...doc.errors.map((error) => ({ offset: error.pos[0], message: error.message.split('\n')[0] ?? '' })),
      ...duplicates.map((offset) => ({ offset, message: 'Map keys must be unique' })),
    ].sort((a, b) => a.offset - b.offset);
    return {
      ok: false,
      issues: located.map(({ offset, message }) => ({
        path: pathAt(doc, offset),
        message: `invalid YAML: ${message}`,
        source: { file, ...position(offset) },
      })),
    };
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION }) ?? {};
  } catch (error) {
    return {
      ok: false,
      issues: [
        { path: [], message: `invalid YAML: ${(error as Error).message}`, source: { file, line: 1, col: 1 } },
      ],
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      issues: [
        {
          path: [],
          message: 'the configuration must be a mapping of sections',
          source: { file, line: 1, col: 1 },
        },
      ],
    };
  }

  const find = (path: Path): Found => walk(doc, path);
  const shape = treeShapeProblems(value);
  if (shape.length > 0) {
    return {
      ok: false,
      issues: shape.map(({ path, message }) => ({
        path,
        message,
        source: { file, ...position(find(path).entryOffset ?? 0) },
      })),
    };
  }
  return {
    ok: true,
    doc: {
      file,
      value: value as Record<string, unknown>,
      locate(path) {
        const { entryOffset } = find(path);
        return entryOffset === undefined ? undefined : position(entryOffset);
      },
      locateValue(path) {
        const found = find(path);
        const start = found.complete && found.node?.range ? found.node.range[0] : found.entryOffset;
        return start === undefined ? undefined : position(start);
      },
      scalarSource(path) {
        const found = find(path);
        if (!found.complete || !isScalar(found.node)) return undefined;
        return typeof found.node.source === 'string' ? found.node.source : undefined;
      },
    },
  };
}

function resolve(doc: Document, node: unknown): Node | null {
  let current = node;
  for (let hops = 0; isAlias(current) && hops < MAX_ALIAS_EXPANSION; hops++) current = current.resolve(doc);
  return (current ?? null) as Node | null;
}

/** Offsets of keys written twice in the same mapping (the second and later ones). */
function duplicateKeys(doc: Document): number[] {
  const offsets: number[] = [];
  const visit = (node: unknown) => {
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key) && pair.key.source !== '<<') {
          const key = String(pair.key.value);
          if (seen.has(key)) offsets.push(pair.key.range?.[0] ?? 0);
          seen.add(key);
        }
        visit(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) visit(item);
    }
  };
  visit(doc.contents);
  return offsets;
}

type Entry = { key: Node; value: unknown };

/** Each mapping's own keys, indexed once, so that locating many problems stays linear. */
const keyIndexes = new WeakMap<object, Map<string, Entry>>();

function keyIndex(map: Node): Map<string, Entry> {
  let index = keyIndexes.get(map);
  if (index === undefined) {
    index = new Map();
    if (isMap(map)) {
      // Later keys win in the value tree, as they do here.
      for (const pair of map.items) {
        if (isPair(pair) && isScalar(pair.key) && pair.key.source !== '<<') {
          index.set(String(pair.key.value), { key: pair.key, value: pair.value });
        }
      }
    }
    keyIndexes.set(map, index);
  }
  return index;
}

/** Finds the entry for `segment` in a map, looking through `<<` merge keys as the value tree does. */
function mapEntry(doc: Document, map: Node, segment: string, depth = 0): Entry | undefined {
  if (!isMap(map) || depth > MAX_ALIAS_EXPANSION) return undefined;
  const own = keyIndex(map).get(segment);
  if (own !== undefined) return own;
  for (const pair of map.items) {
    // With merge keys on, the key's value is a symbol; its source text is still `<<`.
    if (!isPair(pair) || !isScalar(pair.key) || pair.key.source !== '<<') continue;
    const source = resolve(doc, pair.value);
    const sources = isSeq(source) ? source.items.map((item) => resolve(doc, item)) : [source];
    for (const merged of sources) {
      const entry = merged ? mapEntry(doc, merged, segment, depth + 1) : undefined;
      if (entry) return entry;
    }
  }
  return undefined;
}

function walk(doc: Document, path: Path): Found {
  let node = resolve(doc, doc.contents);
  let entryOffset: number | undefined;
  for (const segment of path) {
    if (typeof segment === 'number' && isSeq(node)) {
      const item = node.items[segment];
      if (item === undefined) return { node, entryOffset, complete: false };
      const itemNode = item as Node;
      entryOffset = itemNode.range?.[0] ?? entryOffset;
      node = resolve(doc, item);
      continue;
    }
    const entry = node ? mapEntry(doc, node, String(segment)) : undefined;
    if (entry === undefined) return { node, entryOffset, complete: false };
    entryOffset = entry.key.range?.[0] ?? entryOffset;
    node = resolve(doc, entry.value);
  }
  return { node, entryOffset, complete: true };
}

/**
 * The path of the deepest map entry or list item whose text contains `offset`. Ends are exclusive, except for the
 * last entry, which also owns an error at its very end (an unterminated value at the end of the file).
 */
function pathAt(doc: Document, offset: number): Array<string | number> {
  const path: Array<string | number> = [];
  const contains = (start: number | undefined, end: number | undefined, last: boolean) =>
    start !== undefined && end !== undefined && start <= offset && (offset < end || (last && offset === end));
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const items = node.items;
      const pair = items.find((p, i) =>
        contains(
          (p.key as Node | null)?.range?.[0],
          (p.value as Node | null)?.range?.[1] ?? (p.key as Node | null)?.range?.[1],
          i === items.length - 1,
        ),
      );
      if (!pair || !isScalar(pair.key)) return path;
      path.push(String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const items = node.items;
      const index = items.findIndex((item, i) => {
        const range = (item as Node | null)?.range ?? undefined;
        return contains(range?.[0], range?.[1], i === items.length - 1);
      });
      if (index < 0) return path;
      path.push(index);
      node = items[index];
    } else {
      return path;
    }
  }
}
