import type { ConfigSource } from '../errors.ts';
import type { EnvSourced } from './env.ts';
import type { ConfigDocument } from './source.ts';
import { isPrefixOf, type Path, pathKey } from './tree.ts';

/** A key written under another name in the file (`session.cleanup` for `session.storage.cleanup`). */
export interface PathAlias {
  readonly written: Path;
  readonly canonical: Path;
}

/**
 * Answers "where was this set?" for a config path: the environment variable that set it (or an ancestor),
 * else the place in the file (the nearest written ancestor when the path itself was not written).
 */
export class Locator {
  readonly #doc: ConfigDocument | undefined;
  readonly #envSources: readonly EnvSourced[];
  readonly #envReferences: ReadonlyMap<string, string>;
  readonly #aliases: PathAlias[] = [];

  constructor(
    doc: ConfigDocument | undefined,
    envSources: readonly EnvSourced[],
    envReferences: readonly EnvSourced[],
  ) {
    this.#doc = doc;
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

  /** Where `path` was set; `at: 'value'` points at the value rather than the key. */
  source(path: Path, at: 'key' | 'value' = 'key'): ConfigSource | undefined {
    const written = this.#written(path);
    const fromEnv = this.#envSources.find((s) => isPrefixOf(s.path, written));
    if (fromEnv !== undefined) return { env: fromEnv.variable };
    if (this.#doc !== undefined) {
      const position = at === 'value' ? this.#doc.locateValue(written) : this.#doc.locate(written);
      if (position !== undefined) return { file: this.#doc.file, ...position };
    }
    // Not in the file at all: the variable that created something beneath it.
    const below = this.#envSources.find((s) => isPrefixOf(written, s.path));
    return below === undefined ? undefined : { env: below.variable };
  }

  /** The `${env:NAME}` the value at `path` came from, if any. */
  envReference(path: Path): string | undefined {
    return this.#envReferences.get(pathKey(this.#written(path)));
  }
}
