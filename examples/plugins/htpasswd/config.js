/**
 * `authentication.methods.htpasswd`: its type, and the rules the schema cannot say.
 */

import { statSync } from 'node:fs';
import { fieldMessage, isBlank, isSecretReference, requiredMessage, statFailure } from 'portcullis/plugin';

/** @import { ConfigIssue } from 'portcullis/plugin' */

/**
 * The block once validated (`schema.json`): `file` is set whenever the method is enabled.
 *
 * @typedef {object} HtpasswdConfig
 * @property {boolean} enabled
 * @property {string} [file] the htpasswd file's path, relative to the working directory
 */

/**
 * `file` is required, and a literal path must exist. A `${secret:…}` reference is not a path yet: `validate` runs
 * before references are resolved, so it is left for `create` to read.
 *
 * @param {HtpasswdConfig} config
 * @returns {ConfigIssue[]}
 */
export function validateConfig(config) {
  const { file } = config;
  if (file === undefined || isBlank(file))
    return [{ path: ['file'], message: requiredMessage('htpasswd', 'file') }];
  if (isSecretReference(file)) return [];
  try {
    statSync(file);
  } catch (error) {
    return [{ path: ['file'], message: fieldMessage('htpasswd', 'file', statFailure(file, error)) }];
  }
  return [];
}
