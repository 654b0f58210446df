import { createRegistry } from '../plugins/builtins.ts';
import type { JsonSchema, MethodInstance, MethodPlugin, Plugin } from '../plugins/contracts.ts';
import type { PluginRegistry } from '../plugins/registry.ts';

/** The block of a test method: `enabled` and whatever its schema adds. */
type Block = { enabled: boolean } & Record<string, unknown>;

/**
 * A method for a test: `METHOD_<NAME>`, no sessions, a closed schema with `properties`, and `create` as given (an
 * instance with nothing by default). `extra` sets any other member (`info`, `methodNumber`, ...).
 */
export function testMethod(
  name: string,
  create: MethodPlugin<Block>['create'] = () => ({}) as MethodInstance,
  options: {
    readonly properties?: Record<string, JsonSchema>;
    readonly extra?: Partial<MethodPlugin<Block>>;
  } = {},
): MethodPlugin<Block> {
  return {
    kind: 'method',
    apiVersion: '^1.0.0',
    name,
    method: `METHOD_${name.toUpperCase()}`,
    sessionCompatible: false,
    configSchema: { type: 'object', additionalProperties: false, properties: options.properties ?? {} },
    create,
    ...options.extra,
  };
}

/** The built-ins and `plugins`, registered as a test's own (origin `test`). */
export function registryWith(...plugins: Plugin[]): PluginRegistry {
  const registry = createRegistry();
  for (const plugin of plugins) {
    registry.register({
      kind: plugin.kind,
      name: plugin.name,
      configSchema: plugin.configSchema,
      origin: 'test',
      load: async () => plugin,
    });
  }
  return registry;
}
