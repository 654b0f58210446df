import rootSchema from '../../schema/config.schema.json' with { type: 'json' };
import type { JsonSchema } from '../plugins/contracts.ts';
import { KIND_LABELS, type PluginEntry, type PluginKind } from '../plugins/registry.ts';
import { isRecord } from './tree.ts';

/** Where each kind of plugin block lives in the configuration. */
export const PLUGIN_SECTIONS: Readonly<Record<PluginKind, readonly [string, string]>> = {
  method: ['authentication', 'methods'],
  secrets: ['secrets', 'providers'],
};

const ENABLED: JsonSchema = { type: 'boolean', default: false, description: 'Turns this on.' };

/**
 * Builds the schema that a configuration is validated against: the root schema with one block per registered
 * plugin under `authentication.methods` and `secrets.providers`. Each plugin's own local `$ref`s are rebased onto
 * its position, so the result is one self-contained document that editors and validators read alike.
 */
export function assembleSchema(entries: readonly PluginEntry[]): JsonSchema {
  const root = structuredClone(rootSchema) as Record<string, unknown>;
  for (const kind of Object.keys(PLUGIN_SECTIONS) as PluginKind[]) {
    const [section, child] = PLUGIN_SECTIONS[kind];
    const node = objectAt(root, ['properties', section, 'properties', child]);
    const ofKind = entries.filter((e) => e.kind === kind);
    const names = ofKind.map((e) => e.name).sort();
    const { one, many } = KIND_LABELS[kind];
    node.properties = Object.fromEntries(
      ofKind.map((entry) => {
        const pointer = `#/properties/${section}/properties/${child}/properties/${entry.name}`;
        return [entry.name, pluginBlock(entry.configSchema, pointer)];
      }),
    );
    node['x-messages'] = {
      additionalProperties: `unknown ${one} "{property}"; registered ${many}: ${names.join(', ')}`,
    };
  }
  return root;
}

function pluginBlock(fragment: JsonSchema, pointer: string): JsonSchema {
  const block = rebaseRefs(structuredClone(fragment), pointer) as Record<string, unknown>;
  const properties = isRecord(block.properties) ? block.properties : {};
  return {
    ...block,
    type: 'object',
    default: {},
    properties: 'enabled' in properties ? properties : { enabled: ENABLED, ...properties },
  };
}

/** Rewrites `#/...` references so that they resolve from the fragment's new place in the whole schema. */
function rebaseRefs(node: unknown, pointer: string): unknown {
  if (Array.isArray(node)) return node.map((item) => rebaseRefs(item, pointer));
  if (!isRecord(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      key === '$ref' && typeof value === 'string' && value.startsWith('#')
        ? `${pointer}${value.slice(1)}`
        : rebaseRefs(value, pointer);
  }
  return out;
}

function objectAt(root: Record<string, unknown>, path: readonly string[]): Record<string, unknown> {
  let node = root;
  for (const key of path) {
    const next = node[key];
    if (!isRecord(next)) throw new Error(`schema/config.schema.json has no object at ${path.join('/')}`);
    node = next;
  }
  return node;
}
