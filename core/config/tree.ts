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
    // Own keys only: `constructor` or `toString` in a path names a setting, never something inherited.
    else if (isRecord(node) && Object.hasOwn(node, segment)) node = node[String(segment)];
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

interface PrefixNode {
  end: boolean;
  readonly children: Map<string | number, PrefixNode>;
}

/**
 * A set of paths that answers "is one of them this path or one of its ancestors?" in time proportional to the
 * length of the path asked about, however many paths it holds (a list of paths checked with {@link isPrefixOf}
 * makes thousands of problems against thousands of paths quadratic).
 */
export class PathPrefixes {
  readonly #root: PrefixNode = { end: false, children: new Map() };

  constructor(paths: Iterable<Path> = []) {
    for (const path of paths) this.add(path);
  }

  add(path: Path): void {
    let node = this.#root;
    for (const segment of path) {
      let next = node.children.get(segment);
      if (next === undefined) {
        next = { end: false, children: new Map() };
        node.children.set(segment, next);
      }
      node = next;
    }
    node.end = true;
  }

  /** Whether a path of the set is `path` or one of its ancestors. */
  coversPath(path: Path): boolean {
    let node: PrefixNode | undefined = this.#root;
    for (const segment of path) {
      if (node.end) return true;
      node = node.children.get(segment);
      if (node === undefined) return false;
    }
    return node.end;
  }
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
 * How many mappings and lists may hold one another. Flipt's deepest settings are a few levels down; the limit
 * stops a hostile file from exhausting the stack of every recursive walk of the configuration.
 */
export const MAX_NESTING = 64;

/** The message for a collection nested deeper than {@link MAX_NESTING}. */
export const TOO_DEEP = `is nested too deeply: at most ${MAX_NESTING} levels of mappings and lists are read`;

/** The message for a value that holds itself through an alias. */
export const RECURSIVE = 'a value may not contain itself (recursive alias)';

/** What a configuration value may be: what YAML and JSON give, and nothing a program could hide behaviour in. */
function isPlainValue(value: unknown): boolean {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  // A list whose prototype was swapped (`list.__proto__ = {...}`) has no `map`: it is no list YAML could write.
  if (Array.isArray(value)) return Object.getPrototypeOf(value) === Array.prototype;
  if (typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** What a value that is not plain is, for a message (never its contents). */
function kindOf(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value !== 'object') return `a ${typeof value}`;
  if (Array.isArray(value)) return 'a list with another prototype than a list';
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== ''
    ? `a ${name} object`
    : 'an object that is not a plain mapping';
}

/**
 * Problems with the shape of a tree given as an object (embedding) that no schema can describe: a key that would
 * reach an object's prototype, a value that contains itself, nesting deeper than {@link MAX_NESTING}, and values
 * YAML cannot write (functions, dates, class instances). A file's tree is checked as it is read (yaml-tree.ts).
 */
export function treeShapeProblems(tree: unknown): Array<{ path: Array<string | number>; message: string }> {
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  const visit = (value: unknown, path: Array<string | number>, ancestors: Set<unknown>) => {
    if (!isPlainValue(value)) {
      problems.push({
        path,
        message: `must be text, a number, a boolean, a list or a mapping; got ${kindOf(value)}`,
      });
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (ancestors.has(value)) {
      problems.push({ path, message: RECURSIVE });
      return;
    }
    // The walk stops here, so its own recursion is bounded too.
    if (ancestors.size >= MAX_NESTING) {
      problems.push({ path, message: TOO_DEEP });
      return;
    }
    ancestors.add(value);
    const entries: Array<[string | number, unknown]> = Array.isArray(value)
      ? value.map((item, i) => [i, item])
      : // A mapping's `undefined` is a setting left out (`{ ca_path: maybe }`), as JSON and YAML would write it.
        Object.keys(value)
          .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
          .map((key) => [key, (value as Record<string, unknown>)[key]]);
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
