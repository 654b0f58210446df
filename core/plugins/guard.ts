import {
  ConfigError,
  type ErrorCode,
  ErrorCodes,
  errorMessage,
  PluginError,
  type PortcullisError,
} from '../errors.ts';

function wrap(plugin: string, phase: string, error: unknown): PortcullisError {
  // ctx.configError: the plugin's issues, already located, reported as the configuration's.
  if (error instanceof ConfigError) return error;
  // The core's own errors about this plugin already name it; what the plugin threw (ctx.error included) is wrapped
  // so the operator reads which plugin and which phase.
  if (error instanceof PluginError && error.plugin === plugin && error.message.includes(`"${plugin}"`))
    return error;
  return new PluginError(
    ErrorCodes.PLUGIN_FAILED,
    `plugin "${plugin}" failed in ${phase}: ${errorMessage(error)}`,
    { plugin, cause: error },
  );
}

/** Runs a plugin's synchronous hook; whatever it throws comes back as a `PluginError` naming the plugin. */
export function guardSync<T>(plugin: string, phase: string, hook: () => T): T {
  try {
    return hook();
  } catch (error) {
    throw wrap(plugin, phase, error);
  }
}

/** Runs a plugin's hook that may be asynchronous; failures come back as a `PluginError` naming the plugin. */
export async function guard<T>(plugin: string, phase: string, hook: () => T | Promise<T>): Promise<T> {
  try {
    return await hook();
  } catch (error) {
    throw wrap(plugin, phase, error);
  }
}

/**
 * Runs a plugin's `create` with a time limit: one that never settles (a discovery that hangs past its own timeouts,
 * a forgotten promise) would otherwise hold start-up with no word of which plugin. What a late `create` returns
 * after the limit is closed.
 *
 * @throws `ERR_PLUGIN_FAILED` naming the plugin when `timeoutMs` (milliseconds) passes first.
 */
export async function guardCreate<T>(
  plugin: string,
  timeoutMs: number,
  create: () => T | Promise<T>,
  /**
   * The code of the error when the limit passes (default `ERR_PLUGIN_FAILED`), and the setting that sets the limit,
   * named in its message.
   */
  onLimit: { readonly code?: ErrorCode; readonly setting?: string } = {},
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const created = guard(plugin, 'create', create);
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(
        new PluginError(
          onLimit.code ?? ErrorCodes.PLUGIN_FAILED,
          `plugin "${plugin}" failed in create: it did not finish within ${timeoutMs / 1000} s${onLimit.setting === undefined ? '' : ` (${onLimit.setting})`}`,
          { plugin },
        ),
      );
    }, timeoutMs);
  });
  created.then(
    (instance) => {
      const closable = instance as { close?(): unknown } | undefined;
      if (late) void Promise.resolve(closable?.close?.()).catch(() => undefined);
    },
    () => undefined,
  );
  try {
    return await Promise.race([created, limit]);
  } finally {
    clearTimeout(timer);
  }
}
