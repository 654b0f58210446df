import githubSchema from '../../plugins/github/schema.json' with { type: 'json' };
import jwtSchema from '../../plugins/jwt/schema.json' with { type: 'json' };
import kubernetesSchema from '../../plugins/kubernetes/schema.json' with { type: 'json' };
import oidcSchema from '../../plugins/oidc/schema.json' with { type: 'json' };
import tokenSchema from '../../plugins/token/schema.json' with { type: 'json' };
import awsSchema from '../../secrets/aws/schema.json' with { type: 'json' };
import azureSchema from '../../secrets/azure/schema.json' with { type: 'json' };
import fileSchema from '../../secrets/file/schema.json' with { type: 'json' };
import gcpSchema from '../../secrets/gcp/schema.json' with { type: 'json' };
import vaultSchema from '../../secrets/vault/schema.json' with { type: 'json' };
import type { Plugin } from './contracts.ts';
import { type PluginEntry, PluginRegistry } from './registry.ts';

const defaultExport = async (module: Promise<{ default: Plugin }>): Promise<Plugin> => (await module).default;

/**
 * The built-in plugins, in Flipt's order. Only the schema fragments (small JSON) are read eagerly; each plugin's
 * code is imported when it is enabled.
 */
export const BUILTIN_PLUGINS: readonly PluginEntry[] = [
  {
    kind: 'method',
    name: 'token',
    configSchema: tokenSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../plugins/token/index.ts')),
  },
  {
    kind: 'method',
    name: 'github',
    configSchema: githubSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../plugins/github/index.ts')),
  },
  {
    kind: 'method',
    name: 'oidc',
    configSchema: oidcSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../plugins/oidc/index.ts')),
  },
  {
    kind: 'method',
    name: 'kubernetes',
    configSchema: kubernetesSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../plugins/kubernetes/index.ts')),
  },
  {
    kind: 'method',
    name: 'jwt',
    configSchema: jwtSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../plugins/jwt/index.ts')),
  },
  {
    kind: 'secrets',
    name: 'file',
    configSchema: fileSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../secrets/file/index.ts')),
  },
  {
    kind: 'secrets',
    name: 'vault',
    configSchema: vaultSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../secrets/vault/index.ts')),
  },
  {
    kind: 'secrets',
    name: 'aws',
    configSchema: awsSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../secrets/aws/index.ts')),
  },
  {
    kind: 'secrets',
    name: 'gcp',
    configSchema: gcpSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../secrets/gcp/index.ts')),
  },
  {
    kind: 'secrets',
    name: 'azure',
    configSchema: azureSchema,
    origin: 'builtin',
    load: () => defaultExport(import('../../secrets/azure/index.ts')),
  },
];

/** A registry holding the built-in plugins; third-party ones are added by `loadExternalPlugins`. */
export function createRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const entry of BUILTIN_PLUGINS) registry.register(entry);
  return registry;
}
