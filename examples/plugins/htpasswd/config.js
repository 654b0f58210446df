/**
 * `authentication.methods.htpasswd`: its type, and the rules the schema cannot say.
 */

import { statSync } from 'node:fs';
import {
  fieldMessage,
  isBlank,
  isSecretReference,
  requiredMessage,
  statFailure,
  valueText,
} from 'portcullis/plugin';

/** @import { Stats } from 'node:fs' */
/** @import { ConfigIssue } from 'portcullis/plugin' */

/**
 * The setting that names the file, as the operator wrote it. Every log line about the file starts with it: when
 * `file` is a `${secret:…}` reference, portcullis writes the path it resolved to as `[REDACTED]`, and this is what
 * still says which file a line is about.
 */
export const FILE_SETTING = 'authentication.methods.htpasswd.file';

/**
 * The block once validated (`schema.json`): `file` is set whenever the method is enabled.
 *
 * @typedef {object} HtpasswdConfig
 * @property {boolean} enabled
 * @property {string} [file] the htpasswd file's path, relative to the working directory
 */

/** @type {ReadonlyArray<readonly [(stats: Stats) => boolean, string]>} */
const KINDS = [
  [(stats) => stats.isDirectory(), 'a directory'],
  [(stats) => stats.isFIFO(), 'a named pipe'],
  [(stats) => stats.isSocket(), 'a socket'],
  [(stats) => stats.isCharacterDevice(), 'a character device'],
  [(stats) => stats.isBlockDevice(), 'a block device'],
];

/**
 * Why what a path names is not an htpasswd file (`is a directory, not a regular file`), or `undefined` when it is a
 * regular file (a symbolic link is followed). A directory cannot be read as one, and reading a named pipe or a
 * device could wait for ever.
 *
 * @param {Stats} stats
 * @returns {string | undefined}
 */
export function notRegularFile(stats) {
  if (stats.isFile()) return undefined;
  const kind = KINDS.find(([is]) => is(stats))?.[1];
  return kind === undefined ? 'is not a regular file' : `is ${kind}, not a regular file`;
}

/**
 * `file` is required, and a literal path must name a regular file. A `${secret:…}` reference is not a path yet:
 * `validate` runs before references are resolved, so it is left for `create`, which checks the path it resolved to
 * in the same way.
 *
 * @param {HtpasswdConfig} config
 * @returns {ConfigIssue[]}
 */
export function validateConfig(config) {
  const { file } = config;
  if (file === undefined || isBlank(file))
    return [{ path: ['file'], message: requiredMessage('htpasswd', 'file') }];
  if (isSecretReference(file)) return [];
  let stats;
  try {
    stats = statSync(file);
  } catch (error) {
    return [{ path: ['file'], message: fieldMessage('htpasswd', 'file', statFailure(file, error)) }];
  }
  const problem = notRegularFile(stats);
  if (problem !== undefined)
    return [{ path: ['file'], message: fieldMessage('htpasswd', 'file', `${valueText(file)} ${problem}`) }];
  return [];
}
