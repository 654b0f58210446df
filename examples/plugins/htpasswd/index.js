/**
 * portcullis-plugin-htpasswd: HTTP Basic authentication (RFC 7617) against an Apache htpasswd file, a portcullis
 * method plugin built on `portcullis/plugin` alone.
 *
 * ```yaml
 * plugins: [portcullis-plugin-htpasswd]
 * authentication:
 *   methods:
 *     htpasswd: { enabled: true, file: /etc/portcullis/htpasswd }
 * ```
 */

import { defineMethod, ErrorCodes, quoteValue } from 'portcullis/plugin';
import { parseBasicCredential } from './basic-credential.js';
import { validateConfig } from './config.js';
import { HtpasswdFile } from './htpasswd-file.js';
import { PasswordChecker, typicalCost } from './passwords.js';
import configSchema from './schema.json' with { type: 'json' };

/** @import { Authentication, MethodPlugin } from 'portcullis/plugin' */
/** @import { HtpasswdConfig } from './config.js' */

/** The metadata key that holds the user, on every authentication of this method. */
export const USER_KEY = 'io.portcullis.htpasswd.user';

/** The method's API enum string, as `GET /auth/v1/self` shows it. */
export const METHOD = 'METHOD_HTPASSWD';

/** @type {MethodPlugin<HtpasswdConfig>} */
const htpasswd = defineMethod({
  name: 'htpasswd',
  method: METHOD,
  sessionCompatible: false,
  configSchema,
  validate: (config) => validateConfig(config),
  async create(ctx, config) {
    let file;
    try {
      file = await HtpasswdFile.open(config.file ?? '', ctx.log);
    } catch (error) {
      // The path may have come from a secret reference, which validate left alone: it is checked now, as validate
      // checks a literal one (it must be a regular file), and refused at the setting, where validate would have.
      return ctx.configError([
        { path: ['file'], message: error instanceof Error ? error.message : String(error) },
      ]);
    }
    const passwords = new PasswordChecker({ now: () => ctx.now().getTime() });
    /** @type {WeakMap<ReadonlyMap<string, unknown>, number>} */
    const decoyCosts = new WeakMap();

    return {
      schemes: ['Basic'],
      async authenticate(credential) {
        const basic = parseBasicCredential(credential.value);
        if (!basic.ok) return ctx.error(ErrorCodes.UNAUTHENTICATED, basic.message, { reason: basic.reason });
        const entries = await file.entries();
        let decoyCost = decoyCosts.get(entries);
        if (decoyCost === undefined) {
          decoyCost = typicalCost(entries.values());
          decoyCosts.set(entries, decoyCost);
        }
        const entry = entries.get(basic.user);
        const right = await passwords.check(basic.user, basic.password, entry, decoyCost);
        const user = quoteValue(basic.user);
        if (entry === undefined) {
          return ctx.error(ErrorCodes.UNAUTHENTICATED, `unknown user ${user}`, { reason: 'unknown_user' });
        }
        if (!right) {
          return ctx.error(ErrorCodes.UNAUTHENTICATED, `wrong password for user ${user}`, {
            reason: 'wrong_password',
          });
        }
        /** @type {Authentication} */
        const authentication = Object.freeze({
          id: '',
          method: METHOD,
          metadata: Object.freeze({ [USER_KEY]: basic.user }),
        });
        return authentication;
      },
      identity: (authentication) => ({ user: authentication.metadata[USER_KEY] }),
      close: () => file.close(),
    };
  },
});

export default htpasswd;
