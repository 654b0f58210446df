/**
 * portcullis as a library: load and validate a Flipt v2 configuration, or start the whole runtime.
 *
 * @packageDocumentation
 */
// First, so that it runs before the rest of the package loads: see core/tick-shape.ts.
import './core/tick-shape.ts';

export { type LoadedConfig, type LoadOptions, loadConfig, loadPluginRegistry } from './core/config/load.ts';
export { assembleSchema } from './core/config/schema.ts';
export type * from './core/config/types.ts';
export {
  ConfigError,
  type ConfigSource,
  type ErrorCode,
  ErrorCodes,
  formatIssue,
  type LocatedIssue,
  PluginError,
  PortcullisError,
  type SecretFailure,
  SecretResolutionError,
} from './core/errors.ts';
export { type PortcullisOptions, portcullis } from './core/http/plugin.ts';
export { createRegistry } from './core/plugins/builtins.ts';
export type * from './core/plugins/contracts.ts';
export { PluginRegistry } from './core/plugins/registry.ts';
export { createRuntime, type RunningMethod, type Runtime, type RuntimeOptions } from './core/runtime.ts';
export { type Server, startServer } from './core/server.ts';
