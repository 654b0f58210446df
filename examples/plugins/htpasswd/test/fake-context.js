/**
 * A stand-in for the `MethodContext` portcullis hands `create`, with what this plugin uses: `error` and
 * `configError` throwing as portcullis's do, a logger that keeps every line, and the clock.
 */

import { ErrorCodes, PluginError } from 'portcullis/plugin';

/** @import { Logger, MethodContext } from 'portcullis/plugin' */

/**
 * @typedef {object} LogLine
 * @property {string} level
 * @property {string} message
 * @property {string} text the whole line as JSON, for checks that nothing secret is in it
 */

/**
 * @param {LogLine[]} lines
 * @param {Record<string, unknown>} bindings
 * @returns {Logger}
 */
function recordingLogger(lines, bindings = {}) {
  /** @param {string} level */
  const at = (level) => (/** @type {unknown} */ first, /** @type {string | undefined} */ second) => {
    const fields = typeof first === 'object' && first !== null ? first : {};
    const message = typeof first === 'string' ? first : (second ?? '');
    lines.push({ level, message, text: JSON.stringify({ level, ...bindings, ...fields, msg: message }) });
  };
  return /** @type {Logger} */ ({
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  });
}

/**
 * @param {{ now?: () => Date }} [options]
 * @returns {{ ctx: MethodContext, lines: LogLine[] }}
 */
export function fakeContext(options = {}) {
  /** @type {LogLine[]} */
  const lines = [];
  const ctx = /** @type {MethodContext} */ (
    /** @type {unknown} */ ({
      error(
        /** @type {import('portcullis/plugin').ErrorCode} */ code,
        /** @type {string} */ message,
        raise = {},
      ) {
        throw new PluginError(code, message, { plugin: 'htpasswd', ...raise });
      },
      configError(/** @type {readonly import('portcullis/plugin').ConfigIssue[]} */ issues) {
        throw Object.assign(new Error(issues.map((issue) => issue.message).join('\n')), {
          code: ErrorCodes.CONFIG_INVALID,
          issues,
        });
      },
      log: recordingLogger(lines),
      now: options.now ?? (() => new Date()),
    })
  );
  return { ctx, lines };
}
