/**
 * The schema and contract checks both harnesses share: the plugin meets the contract the registry enforces, its
 * `configSchema` compiles under the rules portcullis validates configurations with, and every object it describes
 * is closed.
 */
import { createAjv } from '../../core/config/validate.ts';
import type { JsonSchema, Plugin } from '../../core/plugins/contracts.ts';
import { assertPlugin } from '../../core/plugins/registry.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Where `schema` describes an object with named properties but leaves other keys open (no
 * `additionalProperties: false`, no schema for them), as JSON pointers. Only the structure is walked (properties,
 * maps, items, definitions); a condition inside `if`/`anyOf`/`not` may name properties without closing them.
 */
export function openObjects(schema: JsonSchema): string[] {
  const open: string[] = [];
  const walk = (node: unknown, pointer: string): void => {
    if (!isObject(node)) return;
    const describesObject = node.type === 'object' || isObject(node.properties);
    if (describesObject && isObject(node.properties) && node.additionalProperties === undefined) {
      if (!isObject(node.patternProperties)) open.push(pointer === '' ? '/' : pointer);
    }
    for (const group of ['properties', 'patternProperties', 'definitions', '$defs'] as const) {
      const children = node[group];
      if (!isObject(children)) continue;
      for (const [key, child] of Object.entries(children)) walk(child, `${pointer}/${group}/${key}`);
    }
    walk(node.additionalProperties, `${pointer}/additionalProperties`);
    if (Array.isArray(node.items)) {
      for (const [i, item] of node.items.entries()) walk(item, `${pointer}/items/${i}`);
    } else {
      walk(node.items, `${pointer}/items`);
    }
  };
  walk(schema, '');
  return open;
}

/**
 * Throws unless `plugin` passes the registry's contract check, and its schema compiles (draft-07, strict, with
 * portcullis's formats and annotation keywords) and is closed at every level.
 */
export async function assertContractAndSchema(plugin: Plugin): Promise<void> {
  assertPlugin(plugin, `conformance: ${String((plugin as { name?: unknown }).name)}`);
  const ajv = await createAjv();
  try {
    ajv.compile(plugin.configSchema);
  } catch (error) {
    throw new Error(`configSchema does not compile as a JSON Schema: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const open = openObjects(plugin.configSchema);
  if (open.length > 0) {
    throw new Error(
      `configSchema leaves objects open (add additionalProperties: false) at ${open.join(', ')}`,
    );
  }
}
