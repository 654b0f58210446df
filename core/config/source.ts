import {
  type Alias,
  Composer,
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  Parser,
  type YAMLMap,
} from 'yaml';
import type { LocatedIssue } from '../errors.ts';
import { describeValue, escapeControls } from './describe-value.ts';
import { isRecord, MAX_NESTING, type Path, TOO_DEEP } from './tree.ts';
import { findTooDeep } from './yaml-depth.ts';
import { buildTree, isMergeKey, scalarKeyText, type TreeProblem } from './yaml-tree.ts';

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

/**
 * YAML 1.2's core schema whatever the file's `%YAML` directive says, as Flipt's Go reader does: text, numbers,
 * booleans, null, lists and mappings, and no 1.1 extras (`!!binary`, `!!set`, `!!timestamp`), whose values are
 * not configuration values. Merge keys (`<<`) are kept, as Flipt keeps them. Duplicate keys are found while the
 * tree is built (in linear time; the library's own check compares every pair of keys).
 */
const YAML_OPTIONS = { schema: 'core', resolveKnownTags: false, merge: true, uniqueKeys: false } as const;

/** Library warnings that are problems here: a tag portcullis cannot honour would silently change a value. */
const REFUSED_WARNINGS = new Set(['TAG_RESOLVE_FAILED', 'BAD_COLLECTION_TYPE']);

/** A library message, on one line, with YAML's own tags written as in a file (`!!binary`). */
function libraryMessage(message: string): string {
  return escapeControls((message.split('\n')[0] ?? '').replaceAll('tag:yaml.org,2002:', '!!'));
}

/**
 * Parses YAML (or JSON, which YAML 1.2 contains) with positions. Everything that keeps the text from being one
 * configuration (syntax errors, a second document, nesting deeper than {@link MAX_NESTING} levels, unsupported
 * tags, keys that are not text or are written twice, broken aliases and merge keys, a top level that is not a
 * mapping) is reported as located issues, all at once.
 */
export function parseConfigText(text: string, file: string): ParseResult {
  const lines = new LineCounter();
  const position = (offset: number): Position => lines.linePos(offset);
  const fail = (problems: readonly TreeProblem[]): ParseResult => ({
    ok: false,
    issues: [...problems]
      .sort((a, b) => a.offset - b.offset)
      .map(({ path, message, offset }) => ({ path, message, source: { file, ...position(offset) } })),
  });

  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  const deep = findTooDeep(tokens);
  if (deep !== undefined) return fail([{ path: deep.path, message: TOO_DEEP, offset: deep.offset }]);

  const [doc, ...others] = Array.from(new Composer(YAML_OPTIONS).compose(tokens, true, text.length));
  if (doc === undefined) return { ok: true, doc: emptyDocument(file) };
  const tree = buildTree(doc, position);
  const index = new DocumentIndex(doc, tree.aliasTargets);
  const problems: TreeProblem[] = [...tree.problems];
  for (const error of doc.errors) {
    const offset = error.pos[0];
    problems.push({
      path: index.pathAt(offset),
      message: `invalid YAML: ${libraryMessage(error.message)}`,
      offset,
    });
  }
  for (const warning of doc.warnings) {
    if (!REFUSED_WARNINGS.has(warning.code)) continue;
    const offset = warning.pos[0];
    const message = libraryMessage(warning.message).replace(
      /^Unresolved tag: (.*)$/,
      'the tag $1 is not supported',
    );
    problems.push({
      path: index.pathAt(offset),
      message: `invalid YAML: ${message}; write the value without it`,
      offset,
    });
  }
  // Flipt would read the first document and silently drop the rest; an empty one (a trailing `---`) loses nothing.
  const holdsSomething = (other: Document.Parsed) =>
    other.errors.length > 0 ||
    !(other.contents === null || (isScalar(other.contents) && other.contents.value === null));
  const another = others.find(holdsSomething);
  if (another !== undefined) {
    problems.push({
      path: [],
      message: 'invalid YAML: a configuration file holds one document, and another one starts here',
      offset: another.range[0],
    });
  }
  const value = tree.value ?? {};
  if (!isRecord(value)) {
    problems.push({
      path: [],
      message: `the configuration must be a mapping of sections; got ${describeValue(value)}`,
      offset: start(doc.contents) ?? 0,
    });
  }
  if (problems.length > 0 || !isRecord(value)) return fail(problems);

  return {
    ok: true,
    doc: {
      file,
      value,
      locate(path) {
        const { entryOffset } = index.find(path);
        return entryOffset === undefined ? undefined : position(entryOffset);
      },
      locateValue(path) {
        const found = index.find(path);
        const at = found.complete ? (start(found.node) ?? found.entryOffset) : found.entryOffset;
        return at === undefined ? undefined : position(at);
      },
      scalarSource(path) {
        const found = index.find(path);
        if (!found.complete || !isScalar(found.node)) return undefined;
        return typeof found.node.source === 'string' ? found.node.source : undefined;
      },
    },
  };
}

function emptyDocument(file: string): ConfigDocument {
  return {
    file,
    value: {},
    locate: () => undefined,
    locateValue: () => undefined,
    scalarSource: () => undefined,
  };
}

function start(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

type Entry = { readonly key: Node; readonly value: unknown };

/** A mapping's own keys, and the values of its merge keys. */
interface KeyIndex {
  readonly keys: ReadonlyMap<string, Entry>;
  readonly merges: readonly unknown[];
}

/**
 * Answers "where in the text is this path?" in time proportional to the path, however many keys a mapping has:
 * each mapping's keys are indexed the first time a path goes through it, and aliases are followed through the
 * targets found while the tree was built.
 */
class DocumentIndex {
  readonly #doc: Document.Parsed;
  readonly #aliasTargets: ReadonlyMap<Alias, Node>;
  readonly #indexes = new WeakMap<YAMLMap, KeyIndex>();

  constructor(doc: Document.Parsed, aliasTargets: ReadonlyMap<Alias, Node>) {
    this.#doc = doc;
    this.#aliasTargets = aliasTargets;
  }

  #resolve(node: unknown): Node | null {
    if (isAlias(node)) return this.#aliasTargets.get(node) ?? null;
    return isNode(node) ? node : null;
  }

  #index(map: YAMLMap): KeyIndex {
    let index = this.#indexes.get(map);
    if (index === undefined) {
      const keys = new Map<string, Entry>();
      const merges: unknown[] = [];
      for (const pair of map.items) {
        const text = scalarKeyText(pair.key);
        if (isMergeKey(pair.key)) merges.push(pair.value);
        else if (text !== undefined && isNode(pair.key)) keys.set(text, { key: pair.key, value: pair.value });
      }
      index = { keys, merges };
      this.#indexes.set(map, index);
    }
    return index;
  }

  /** The entry for `segment` in a map, looking through merge keys as the value tree does. */
  #entry(map: Node | null, segment: string, depth = 0): Entry | undefined {
    if (!isMap(map) || depth > MAX_NESTING) return undefined;
    const { keys, merges } = this.#index(map);
    const own = keys.get(segment);
    if (own !== undefined) return own;
    for (const merge of merges) {
      const source = this.#resolve(merge);
      const sources = isSeq(source) ? source.items.map((item) => this.#resolve(item)) : [source];
      for (const merged of sources) {
        const entry = this.#entry(merged, segment, depth + 1);
        if (entry !== undefined) return entry;
      }
    }
    return undefined;
  }

  /** The node at `path`, or the deepest one written on the way there. */
  find(path: Path): Found {
    let node = this.#resolve(this.#doc.contents);
    let entryOffset: number | undefined;
    for (const segment of path) {
      if (typeof segment === 'number' && isSeq(node)) {
        const item = node.items[segment];
        if (item === undefined) return { node, entryOffset, complete: false };
        entryOffset = start(item) ?? entryOffset;
        node = this.#resolve(item);
        continue;
      }
      const entry = this.#entry(node, String(segment));
      if (entry === undefined) return { node, entryOffset, complete: false };
      entryOffset = start(entry.key) ?? entryOffset;
      node = this.#resolve(entry.value);
    }
    return { node, entryOffset, complete: true };
  }

  /**
   * The path of the deepest map entry or list item whose text contains `offset`, found by halving (entries are in
   * text order). Ends are exclusive, except for the last entry, which also owns an error at its very end (an
   * unterminated value at the end of the file).
   */
  pathAt(offset: number): Array<string | number> {
    const path: Array<string | number> = [];
    let node: unknown = this.#doc.contents;
    for (let depth = 0; depth <= MAX_NESTING; depth++) {
      if (isMap(node)) {
        const pair =
          node.items[
            containing(node.items, offset, (p) => [
              start(p.key),
              (p.value as Node | null)?.range?.[1] ?? (p.key as Node | null)?.range?.[1],
            ])
          ];
        const key = scalarKeyText(pair?.key);
        if (pair === undefined || key === undefined) return path;
        path.push(key);
        node = pair.value;
      } else if (isSeq(node)) {
        const index = containing(node.items, offset, (item) => [
          start(item),
          (item as Node | null)?.range?.[1],
        ]);
        if (index < 0) return path;
        path.push(index);
        node = node.items[index];
      } else {
        return path;
      }
    }
    return path;
  }
}

/** The index of the item (in text order) whose range, as `range` gives it, contains `offset`; -1 when none. */
function containing<T>(
  items: readonly T[],
  offset: number,
  range: (item: T) => [number | undefined, number | undefined],
): number {
  const last = items.length - 1;
  let low = 0;
  let high = last;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [from, to] = range(items[middle] as T);
    // An entry without a range (never seen from the parser) leaves halving without its guide: search them all.
    if (from === undefined || to === undefined) {
      return items.findIndex((item, i) => {
        const [a, b] = range(item);
        return (
          a !== undefined && b !== undefined && a <= offset && (offset < b || (i === last && offset === b))
        );
      });
    }
    if (offset < from) high = middle - 1;
    else if (offset < to || (middle === last && offset === to)) return middle;
    else low = middle + 1;
  }
  return -1;
}
