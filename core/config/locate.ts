import type { ConfigSource } from '../errors.ts';
import type { EnvSourced } from './env.ts';
import type { ConfigDocument } from './source.ts';
import { getAt, isPrefixOf, type Path, pathKey } from './tree.ts';

/** A key written under another name in the file (`session.cleanup` for `session.storage.cleanup`). */
export interface PathAlias {
  readonly written: Path;
  readonly canonical: Path;
}

/** How many leading segments of `path` exist in `tree` (own keys only). */
function presentLength(tree: unknown, path: Path): number {
  let node = tree;
  for (const [i, segment] of path.entries()) {
    const next = getAt(node, [segment]);
    if (next === undefined) return i;
    node = next;
  }
  return path.length;
}

interface SourceNode {
  /** The first source (by index) whose path ends here. */
  ending: number | undefined;
  /** The first source (by index) whose path goes through here or ends here. */
  first: number;
  readonly children: Map<string | number, SourceNode>;
}

/**
 * The variables' paths as a tree, so that each question about a path takes time in proportion to its length, not
 * to the number of variables (thousands of problems against thousands of variables would be quadratic).
 */
class SourceIndex {
  readonly #sources: readonly EnvSourced[];
  readonly #root: SourceNode = { ending: undefined, first: Number.POSITIVE_INFINITY, children: new Map() };

  constructor(sources: readonly EnvSourced[]) {
    this.#sources = sources;
    for (const [index, source] of sources.entries()) {
      let node = this.#root;
      node.first = Math.min(node.first, index);
      for (const segment of source.path) {
        let next = node.children.get(segment);
        if (next === undefined) {
          next = { ending: undefined, first: index, children: new Map() };
          node.children.set(segment, next);
        }
        node = next;
      }
      node.ending ??= index;
    }
  }

  /** The first source whose path is `path` or one of its ancestors. */
  covering(path: Path): EnvSourced | undefined {
    let best: number | undefined;
    let node: SourceNode | undefined = this.#root;
    for (let depth = 0; node !== undefined; depth++) {
      if (node.ending !== undefined && (best === undefined || node.ending < best)) best = node.ending;
      if (depth === path.length) break;
      node = node.children.get(path[depth] as string | number);
    }
    return best === undefined ? undefined : this.#sources[best];
  }

  /** The first of the sources that share the most leading segments with `path`, if they share more than `least`. */
  closest(path: Path, least: number): EnvSourced | undefined {
    let node = this.#root;
    let depth = 0;
    for (; depth < path.length; depth++) {
      const next = node.children.get(path[depth] as string | number);
      if (next === undefined) break;
      node = next;
    }
    return depth > least ? this.#sources[node.first] : undefined;
  }
}

/**
 * Answers "where was this set?" for a config path: the environment variable that set it (or an ancestor, or
 * created the block it is in), else the place in the file (the nearest written ancestor when the path itself
 * was not written; the top of the file when nothing on the way was).
 */
export class Locator {
  readonly #doc: ConfigDocument | undefined;
  readonly #input: unknown;
  readonly #envSources: SourceIndex;
  readonly #envReferences: ReadonlyMap<string, string>;
  readonly #aliases: PathAlias[] = [];

  /** `input` is the tree as written, before `FLIPT_*` variables; by default the document's. */
  constructor(
    doc: ConfigDocument | undefined,
    envSources: readonly EnvSourced[],
    envReferences: readonly EnvSourced[],
    input: unknown = doc?.value,
  ) {
    this.#doc = doc;
    this.#input = input;
    this.#envSources = new SourceIndex(envSources);
    this.#envReferences = new Map(envReferences.map((r) => [pathKey(r.path), r.variable]));
  }

  addAlias(alias: PathAlias): void {
    this.#aliases.push(alias);
  }

  #written(path: Path): Path {
    const alias = this.#aliases.find((a) => isPrefixOf(a.canonical, path));
    return alias === undefined ? path : [...alias.written, ...path.slice(alias.canonical.length)];
  }

  /**
   * The variable that created the block `path` is in: one whose path shares more with `path` than the input
   * does, so that `tokens.ci` made by `FLIPT_..._TOKENS_CI_METADATA_ROLE` is where `tokens.ci.credential` is
   * missing from.
   */
  #creator(path: Path): EnvSourced | undefined {
    return this.#envSources.closest(path, presentLength(this.#input, path));
  }

  /** Where `path` was set; `at: 'value'` points at the value rather than the key. */
  source(path: Path, at: 'key' | 'value' = 'key'): ConfigSource | undefined {
    const written = this.#written(path);
    const fromEnv = this.#envSources.covering(written) ?? this.#creator(written);
    if (fromEnv !== undefined) return { env: fromEnv.variable };
    if (this.#doc === undefined) return undefined;
    const position = at === 'value' ? this.#doc.locateValue(written) : this.#doc.locate(written);
    return { file: this.#doc.file, ...(position ?? { line: 1, col: 1 }) };
  }

  /** The `${env:NAME}` the value at `path` came from, if any. */
  envReference(path: Path): string | undefined {
    return this.#envReferences.get(pathKey(this.#written(path)));
  }
}
