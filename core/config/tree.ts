/** A path into the configuration tree: keys, and indices for lists. */
export type Path = ReadonlyArray<string | number>;

/** A plain object (a YAML mapping), as opposed to a list, a scalar or null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at `path`, or `undefined` when any step is missing. */
export function getAt(tree: unknown, path: Path): unknown {
  let node = tree;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isRecord(node)) node = node[String(segment)];
    else return undefined;
  }
  return node;
}

/** A stable string key for a path, for maps keyed by path. */
export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

/** Whether `prefix` is `path` or one of its ancestors. */
export function isPrefixOf(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

/** `value` when it is a mapping, else an empty one: for rules that must not trip over malformed input. */
export function recordOf(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}
