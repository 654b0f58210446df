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

/** How many leading segments two paths share. */
function sharedLength(a: Path, b: Path): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * Answers "where was this set?" for a config path: the environment variable that set it (or an ancestor, or
 * created the block it is in), else the place in the file (the nearest written ancestor when the path itself
 * was not written; the top of the file when nothing on the way was).
 */
export class Locator {
  readonly #doc: ConfigDocument | undefined;
  readonly #input: unknown;
  readonly #envSources: readonly EnvSourced[];
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
    this.#envSources = envSources;
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
    const present = presentLength(this.#input, path);
    let best: EnvSourced | undefined;
    let bestLength = present;
    for (const source of this.#envSources) {
      const shared = sharedLength(source.path, path);
      if (shared > bestLength) {
        best = source;
        bestLength = shared;
      }
    }
    return best;
  }

  /** Where `path` was set; `at: 'value'` points at the value rather than the key. */
  source(path: Path, at: 'key' | 'value' = 'key'): ConfigSource | undefined {
    const written = this.#written(path);
    const fromEnv = this.#envSources.find((s) => isPrefixOf(s.path, written)) ?? this.#creator(written);
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
