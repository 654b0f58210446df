import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';

/** The repository's root. */
export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** One file or directory of a build context: `from` on this machine, `to` its path in the context. */
export interface ContextEntry {
  readonly from: string;
  readonly to: string;
  /**
   * An installed package, by what the lockfile pins for it (its integrity hash, or version): the digest takes that
   * instead of reading its files, and its own `node_modules` is left out (nested packages are entries of their own).
   */
  readonly pinned?: string;
}

/** A build context: entries, plus files written from memory (a generated `.dockerignore`). */
export interface BuildContext {
  readonly entries: readonly ContextEntry[];
  readonly generated?: Readonly<Record<string, string>>;
}

interface LockPackage {
  readonly version?: string;
  readonly integrity?: string;
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
}

type Lock = { readonly packages: Readonly<Record<string, LockPackage>> };

let lock: Lock | undefined;
/** The lockfile, read once per process (the images of a run are worked out from one state of it). */
const readLock = (): Lock => {
  lock ??= JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as Lock;
  return lock;
};

/** Where Node would find `name` from the package at `from` (a lockfile key): the nearest `node_modules/name` up. */
function locate(lock: Lock, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    const at = base.lastIndexOf('/node_modules/');
    base = at < 0 ? '' : base.slice(0, at);
  }
}

/**
 * The installed packages (lockfile keys such as `node_modules/jose`) that `names` need at run time: the packages
 * and, recursively, their dependencies and optional dependencies, resolved as Node resolves them. Optional ones
 * that are not installed here (another platform's builds) are left out.
 */
export function dependencyClosure(names: readonly string[]): string[] {
  const lock = readLock();
  const seen = new Set<string>();
  const visit = (from: string, name: string, optional: boolean) => {
    const key = locate(lock, from, name);
    if (key === undefined || !existsSync(join(repoRoot, key))) {
      if (optional) return;
      throw new Error(`${name} (needed by ${from || 'the project'}) is not installed: run npm ci`);
    }
    if (seen.has(key)) return;
    seen.add(key);
    const entry = lock.packages[key] ?? {};
    for (const dependency of Object.keys(entry.dependencies ?? {})) visit(key, dependency, false);
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) visit(key, dependency, true);
    // npm installs peers too; one that is not installed was optional.
    for (const dependency of Object.keys(entry.peerDependencies ?? {})) visit(key, dependency, true);
  };
  for (const name of names) visit('', name, false);
  return [...seen].sort();
}

/**
 * The project's production packages, as `npm prune --omit=dev` keeps them: every lockfile entry npm did not mark
 * `dev`, that is installed here (another platform's optional builds are not).
 */
export function productionPackages(): string[] {
  return Object.entries(readLock().packages)
    .filter(([key, entry]) => key.startsWith('node_modules/') && entry.dev !== true)
    .map(([key]) => key)
    .filter((key) => existsSync(join(repoRoot, key)))
    .sort();
}

/** Entries for installed packages, each at its own path in the context, pinned by the lockfile. */
export function packageEntries(keys: readonly string[]): ContextEntry[] {
  const { packages } = readLock();
  return keys.map((key) => ({
    from: join(repoRoot, key),
    to: key,
    pinned: `${packages[key]?.integrity ?? packages[key]?.version}`,
  }));
}

/**
 * The mode a file gets in the context, and in its digest: 0755 when anyone may execute it, else 0644. The rest of
 * the bits says more about the clone's umask than about the file, and would change tags for nothing.
 */
const fileMode = (mode: number) => ((mode & 0o111) !== 0 ? 0o755 : 0o644);

function* walk(from: string, to: string, isPackage = false): Generator<{ from: string; to: string }> {
  const stat = lstatSync(from);
  if (stat.isDirectory()) {
    for (const name of readdirSync(from).sort()) {
      if (isPackage && name === 'node_modules') continue;
      yield* walk(join(from, name), posix.join(to, name));
    }
  } else {
    yield { from, to };
  }
}

/**
 * A digest of a context's contents (paths, modes, bytes; symlinks by their target; installed packages by their pin),
 * for the image's tag: the same inputs give the same tag, so an image that exists is not built again.
 */
export function contextDigest(context: BuildContext): string {
  const hash = createHash('sha256');
  for (const entry of context.entries) {
    if (entry.pinned !== undefined) {
      hash.update(`${entry.to}\0pinned\0${entry.pinned}\0`);
      continue;
    }
    for (const file of walk(entry.from, entry.to)) {
      const stat = lstatSync(file.from);
      hash.update(`${file.to}\0${stat.isSymbolicLink() ? 'l' : fileMode(stat.mode).toString(8)}\0`);
      hash.update(stat.isSymbolicLink() ? readlinkSync(file.from) : readFileSync(file.from));
    }
  }
  for (const [name, text] of Object.entries(context.generated ?? {}).sort())
    hash.update(`${name}\0${text}\0`);
  return hash.digest('hex');
}

/** The context as a tar stream, for the Docker build API. Files are streamed, not read into memory. */
export function contextTar(context: BuildContext): Readable {
  const tar = pack();
  void (async () => {
    try {
      for (const [name, text] of Object.entries(context.generated ?? {}))
        tar.entry({ name, mode: 0o644 }, text);
      for (const entry of context.entries) {
        for (const file of walk(entry.from, entry.to, entry.pinned !== undefined)) {
          const stat = lstatSync(file.from);
          if (stat.isSymbolicLink()) {
            tar.entry({ name: file.to, type: 'symlink', linkname: readlinkSync(file.from), mode: 0o777 });
            continue;
          }
          const sink = tar.entry({
            name: file.to,
            size: stat.size,
            mode: fileMode(stat.mode),
            mtime: stat.mtime,
          });
          await pipeline(createReadStream(file.from), sink);
        }
      }
      tar.finalize();
    } catch (error) {
      tar.destroy(error as Error);
    }
  })();
  return tar as unknown as Readable;
}

/** A path under the repository, as a context entry at the same relative path. */
export const repoEntry = (path: string, to = path): ContextEntry => ({ from: join(repoRoot, path), to });
