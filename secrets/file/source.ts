import { type FSWatcher, watch } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { SecretSource } from '../../core/plugins/kit/index.ts';
import {
  ErrorCodes,
  FileTooLargeError,
  PluginError,
  readTextFileLimited,
  secretNotFound,
  selectSecretKey,
  statFailure,
} from '../../core/plugins/kit/index.ts';

/** A secret file larger than this is refused rather than read into memory. */
const MAX_SECRET_BYTES = 1024 * 1024;

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  // `..` and `../x` leave the folder; a file named `..token` does not.
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Opens `basePath` as a secret store: `get("ci-token")` returns the trimmed contents of `<basePath>/ci-token`.
 * The base path must exist when the store opens. Paths that climb out of it, directly (`../x`) or through a
 * symbolic link, are refused.
 */
export async function openFileSource(basePath: string): Promise<SecretSource> {
  let root: string;
  try {
    root = await realpath(basePath);
    if (!(await stat(root)).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (error) {
    throw new PluginError(ErrorCodes.SECRET_PROVIDER, `checking base path: ${statFailure(basePath, error)}`);
  }

  return {
    async get(path, key) {
      const target = resolve(root, path.replace(/^\/+/, ''));
      if (!inside(root, target)) {
        throw new PluginError(
          ErrorCodes.SECRET_REFERENCE_INVALID,
          `secret path "${path}" is outside base_path`,
        );
      }
      let real: string;
      try {
        real = await realpath(target);
      } catch {
        throw secretNotFound(`secret not found at path "${path}"`);
      }
      if (!inside(root, real)) {
        throw new PluginError(
          ErrorCodes.SECRET_REFERENCE_INVALID,
          `secret path "${path}" leads outside base_path through a symbolic link`,
        );
      }
      const info = await stat(real);
      if (!info.isFile()) throw secretNotFound(`secret not found at path "${path}" (not a file)`);
      if (info.size > MAX_SECRET_BYTES) {
        throw new PluginError(ErrorCodes.SECRET_PROVIDER, `secret at path "${path}" is larger than 1 MiB`);
      }
      let text: string;
      try {
        // Read with the limit too: the file may have grown since it was measured.
        text = await readTextFileLimited(real, MAX_SECRET_BYTES);
      } catch (error) {
        if (error instanceof FileTooLargeError) {
          throw new PluginError(ErrorCodes.SECRET_PROVIDER, `secret at path "${path}" is larger than 1 MiB`);
        }
        throw error;
      }
      return selectSecretKey(text.trim(), path, key);
    },

    watch(path, onChange) {
      // Every folder from base_path down to the file's: a Kubernetes secret volume swaps the `..data` link in
      // base_path (the file itself is a link through it, so watching the file would follow the old target), and
      // an editor replaces a file by renaming a new one over it. Any event prompts a fetch, which compares values.
      const target = resolve(root, path.replace(/^\/+/, ''));
      const folders: string[] = [];
      for (let folder = dirname(target); inside(root, folder); folder = dirname(folder)) {
        folders.push(folder);
        if (folder === root) break;
      }
      const watchers: FSWatcher[] = [];
      for (const folder of folders) {
        try {
          const watcher = watch(folder, { persistent: false }, () => onChange());
          // A folder removed (a swapped-out version) ends its watcher; the periodic fetch still runs.
          watcher.on('error', () => watcher.close());
          watchers.push(watcher);
        } catch {
          // Not there (yet): the periodic fetch covers it.
        }
      }
      return () => {
        for (const watcher of watchers) watcher.close();
      };
    },
  };
}
