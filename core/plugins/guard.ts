import { ErrorCodes, errorMessage, PluginError } from '../errors.ts';

function wrap(plugin: string, phase: string, error: unknown): PluginError {
  if (error instanceof PluginError && error.plugin === plugin) return error;
  return new PluginError(
    ErrorCodes.PLUGIN_FAILED,
    plugin,
    `plugin "${plugin}" failed in ${phase}: ${errorMessage(error)}`,
    {
      cause: error,
    },
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
