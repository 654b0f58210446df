import { fileURLToPath } from 'node:url';
import { mentioning, quoteValue } from '../config/describe-value.ts';
import { createAjv } from '../config/validate.ts';
import { errorMessage } from '../errors.ts';
import type { MethodPlugin, Plugin } from './contracts.ts';
import { assertPlugin, type PluginRegistry } from './registry.ts';
import { moduleUrl } from './resolve-module.ts';

/** A problem with one entry of `plugins:`; `index` is its position in the list. */
export interface PluginLoadProblem {
  readonly index: number;
  readonly message: string;
}

function pluginsOf(module: Record<string, unknown>): unknown[] | undefined {
  const exported = module.default;
  if (exported === undefined || exported === null) return undefined;
  return Array.isArray(exported) ? exported : [exported];
}

/** Node's reason a module could not be imported, with the file or package it names cut as the entry is. */
function importFailure(error: unknown, url: string): string {
  const named = [url, url.startsWith('file:') ? fileURLToPath(url) : url].sort((a, b) => b.length - a.length);
  return named.reduce((text, value) => mentioning(text, value), errorMessage(error));
}

/**
 * Imports each third-party module and registers the plugins it default-exports (one plugin object, or an
 * array). Every problem is returned, each tied to its list entry: a module that cannot be imported, one that
 * exports no plugin, a plugin that breaks the contract or whose schema is not valid JSON Schema, a taken name.
 */
export async function loadExternalPlugins(
  registry: PluginRegistry,
  specifiers: readonly string[],
  baseDir: string,
): Promise<PluginLoadProblem[]> {
  const problems: PluginLoadProblem[] = [];
  const methods: Array<{
    readonly index: number;
    readonly shown: string;
    readonly plugin: MethodPlugin<object>;
  }> = [];
  const ajv = specifiers.length > 0 ? await createAjv() : undefined;
  for (const [index, specifier] of specifiers.entries()) {
    // The entry as messages show it: escaped to one line, and cut when long.
    const shown = quoteValue(specifier);
    const url = moduleUrl(specifier, baseDir);
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      problems.push({ index, message: `cannot import plugin module ${shown}: ${importFailure(error, url)}` });
      continue;
    }
    const exported = pluginsOf(module);
    if (exported === undefined || exported.length === 0) {
      problems.push({
        index,
        message: `plugin module ${shown} exports no plugin: its default export must be a plugin object (kind, name, configSchema, create) or an array of them`,
      });
      continue;
    }
    for (const candidate of exported) {
      let plugin: Plugin;
      try {
        plugin = assertPlugin(candidate, shown);
      } catch (error) {
        problems.push({ index, message: errorMessage(error) });
        continue;
      }
      try {
        ajv?.compile(plugin.configSchema);
      } catch (error) {
        problems.push({
          index,
          message: `plugin "${plugin.name}" from ${shown}: configSchema is not a valid JSON Schema: ${errorMessage(error)}`,
        });
        continue;
      }
      try {
        registry.register({
          kind: plugin.kind,
          name: plugin.name,
          configSchema: plugin.configSchema,
          origin: shown,
          load: async () => plugin,
        });
        if (plugin.kind === 'method') methods.push({ index, shown, plugin });
      } catch (error) {
        problems.push({ index, message: errorMessage(error) });
      }
    }
  }
  if (methods.length > 0) problems.push(...(await claimedTwice(registry, methods)));
  return problems;
}

/**
 * Third-party methods that claim the `method` (or `methodNumber`) of another registered one: authentications are
 * told apart by it (whose `admit`, whose `identity`, which row of `GET /auth/v1/method`), so two owners would let
 * one method judge the other's sessions. Built-ins' code is imported for this only when a third-party method is
 * listed.
 */
async function claimedTwice(
  registry: PluginRegistry,
  added: ReadonlyArray<{
    readonly index: number;
    readonly shown: string;
    readonly plugin: MethodPlugin<object>;
  }>,
): Promise<PluginLoadProblem[]> {
  const problems: PluginLoadProblem[] = [];
  const others: Array<MethodPlugin<object>> = [];
  for (const entry of registry.entries('method')) {
    if (added.some(({ plugin }) => plugin.name === entry.name)) continue;
    try {
      others.push(await registry.method(entry.name));
    } catch {
      // A plugin that cannot be loaded is reported where it is enabled.
    }
  }
  const seen = [...others];
  for (const { index, shown, plugin } of added) {
    const owner = seen.find(
      (other) =>
        other.method === plugin.method ||
        (plugin.methodNumber !== undefined && other.methodNumber === plugin.methodNumber),
    );
    if (owner !== undefined) {
      const what =
        owner.method === plugin.method
          ? `method ${quoteValue(plugin.method)}`
          : `methodNumber ${String(plugin.methodNumber)}`;
      problems.push({
        index,
        message: `plugin "${plugin.name}" from ${shown}: ${what} is already that of the plugin "${owner.name}"; each method needs its own`,
      });
      continue;
    }
    seen.push(plugin);
  }
  return problems;
}
