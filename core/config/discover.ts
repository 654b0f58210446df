import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCodes, PortcullisError } from '../errors.ts';

/** Where a configuration is looked for when `--config` is not given, in order (Flipt's system path last). */
export const DEFAULT_SEARCH_PATHS: readonly string[] = ['config.yaml', '/etc/flipt/config/default.yml'];

/**
 * The configuration file to load: `explicit` (which must exist), else the first of `searchPaths` that exists
 * (relative ones from `cwd`), else `undefined`, meaning Flipt's defaults.
 */
export function discoverConfigFile(
  explicit: string | undefined,
  cwd: string,
  searchPaths: readonly string[] = DEFAULT_SEARCH_PATHS,
): string | undefined {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) {
      throw new PortcullisError(ErrorCodes.CONFIG_NOT_FOUND, `configuration file ${explicit} does not exist`);
    }
    return path;
  }
  return searchPaths.map((candidate) => resolve(cwd, candidate)).find((path) => existsSync(path));
}
