import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The conditions Node's ESM loader matches for `import`. */
const CONDITIONS = new Set(['node', 'import', 'default']);

function conditionalTarget(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (Array.isArray(entry)) {
    for (const item of entry) {
      const found = conditionalTarget(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof entry === 'object' && entry !== null) {
    // Node tries conditions in the order the package lists them.
    for (const [condition, value] of Object.entries(entry)) {
      if (!CONDITIONS.has(condition)) continue;
      const found = conditionalTarget(value);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function exportsTarget(exports: unknown, subpath: string): string | undefined {
  if (typeof exports === 'string' || Array.isArray(exports))
    return subpath === '.' ? conditionalTarget(exports) : undefined;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const keys = Object.keys(exports);
  if (keys.length > 0 && keys.every((key) => key.startsWith('.'))) {
    return conditionalTarget((exports as Record<string, unknown>)[subpath]);
  }
  return subpath === '.' ? conditionalTarget(exports) : undefined;
}

/** Splits `@scope/name/sub/path` into the package name and `./sub/path`. */
function splitSpecifier(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split('/');
  const size = specifier.startsWith('@') ? 2 : 1;
  const rest = parts.slice(size).join('/');
  return { name: parts.slice(0, size).join('/'), subpath: rest === '' ? '.' : `./${rest}` };
}

/**
 * Where a `plugins:` entry is imported from: a path relative to the configuration file's folder, or a package found
 * in a `node_modules` folder from there upwards, its entry point read from `exports` with the `import` condition
 * (as Node's ESM loader does, so that packages which are ESM only are found too). Anything else is left to Node.
 */
export function moduleUrl(specifier: string, baseDir: string): string {
  if (specifier.startsWith('file:') || specifier.startsWith('node:')) return specifier;
  if (specifier.startsWith('.') || isAbsolute(specifier))
    return pathToFileURL(resolve(baseDir, specifier)).href;
  const { name, subpath } = splitSpecifier(specifier);
  for (let dir = resolve(baseDir); ; dir = dirname(dir)) {
    const packageDir = join(dir, 'node_modules', name);
    const manifest = join(packageDir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: string };
      const target =
        pkg.exports === undefined
          ? subpath === '.'
            ? (pkg.main ?? 'index.js')
            : subpath
          : exportsTarget(pkg.exports, subpath);
      if (target !== undefined) return pathToFileURL(join(packageDir, target)).href;
    }
    if (dir === dirname(dir)) return specifier;
  }
}
