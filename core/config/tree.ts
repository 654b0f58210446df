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

/** Keys that would reach an object's prototype when assigned. */
const FORBIDDEN_KEYS = new Set(['__proto__']);

/** Whether `key` may be used as a configuration key (`__proto__` may not). */
export function isSafeKey(key: string): boolean {
  return !FORBIDDEN_KEYS.has(key);
}

/**
 * Problems with the shape of a tree that no schema can describe: a key that would reach an object's prototype,
 * and a value that contains itself (a recursive YAML alias).
 */
export function treeShapeProblems(tree: unknown): Array<{ path: Array<string | number>; message: string }> {
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  const visit = (value: unknown, path: Array<string | number>, ancestors: Set<unknown>) => {
    if (typeof value !== 'object' || value === null) return;
    if (ancestors.has(value)) {
      problems.push({ path, message: 'a value may not contain itself (recursive alias)' });
      return;
    }
    ancestors.add(value);
    const entries: Array<[string | number, unknown]> = Array.isArray(value)
      ? value.map((item, i) => [i, item])
      : Object.keys(value).map((key) => [key, (value as Record<string, unknown>)[key]]);
    for (const [key, child] of entries) {
      if (typeof key === 'string' && !isSafeKey(key))
        problems.push({ path: [...path, key], message: `the key "${key}" is not allowed` });
      else visit(child, [...path, key], ancestors);
    }
    ancestors.delete(value);
  };
  visit(tree, [], new Set());
  return problems;
}

/**
 * Sets the value at `path`, creating missing mappings on the way. Descends only into the tree's own
 * properties, never a prototype's. Returns false (changing nothing) when a step is not a mapping.
 */
export function setAt(tree: Record<string, unknown>, path: Path, value: unknown): boolean {
  if (path.length === 0 || !path.every((segment) => typeof segment === 'number' || isSafeKey(segment)))
    return false;
  let node: unknown = tree;
  for (const segment of path.slice(0, -1)) {
    const container = node as Record<string | number, unknown>;
    const next = Object.hasOwn(container, segment) ? container[segment] : undefined;
    if (next === undefined || next === null) {
      const created: Record<string, unknown> = {};
      container[segment] = created;
      node = created;
    } else if (typeof next === 'object') {
      node = next;
    } else {
      return false;
    }
  }
  (node as Record<string | number, unknown>)[path.at(-1) as string | number] = value;
  return true;
}
