import semver from 'semver';
import { ErrorCodes, errorMessage, PluginError } from '../errors.ts';
import type { JsonSchema, MethodPlugin, Plugin, SecretProvider } from './contracts.ts';
import { KIT_API_VERSION } from './kit/version.ts';

/** `method` (authentication.methods.*) or `secrets` (secrets.providers.*). */
export type PluginKind = Plugin['kind'];

/** What the registry knows of a plugin before its code is imported. */
export interface PluginEntry {
  readonly kind: PluginKind;
  readonly name: string;
  readonly configSchema: JsonSchema;
  /** `builtin`, or the module specifier a third-party plugin came from. */
  readonly origin: string;
  /** Imports the plugin's code; called at most once. */
  load(): Promise<Plugin>;
}

/** How messages name each kind of plugin, one and many. */
export const KIND_LABELS: Readonly<Record<PluginKind, { readonly one: string; readonly many: string }>> = {
  method: { one: 'authentication method', many: 'methods' },
  secrets: { one: 'secret provider', many: 'providers' },
};
const NAME = /^[A-Za-z0-9_-]+$/;

/** Checks that `value` meets the plugin contract; `origin` names where it came from in the error. */
export function assertPlugin(value: unknown, origin: string): Plugin {
  // Named once its name is known to be one, so that an author of a module exporting several can tell which.
  const fail = (problem: string, name?: string): never => {
    const which = name === undefined ? 'plugin' : `plugin "${name}"`;
    throw new PluginError(ErrorCodes.PLUGIN_INVALID, `${which} from ${origin}: ${problem}`, {
      plugin: name ?? origin,
    });
  };
  if (typeof value !== 'object' || value === null) return fail('is not a plugin object');
  const candidate = value as Record<string, unknown>;
  if (candidate.kind !== 'method' && candidate.kind !== 'secrets') {
    return fail('kind must be "method" or "secrets"');
  }
  const { name } = candidate;
  if (typeof name !== 'string' || !NAME.test(name)) return fail('name must be letters, digits, "_" or "-"');
  const schema = candidate.configSchema;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    return fail('configSchema must be a JSON Schema object', name);
  }
  const { type, additionalProperties } = schema as Record<string, unknown>;
  if (type !== 'object' || additionalProperties !== false) {
    return fail(
      'configSchema must be a closed object schema (type: "object", additionalProperties: false)',
      name,
    );
  }
  const { apiVersion } = candidate;
  if (typeof apiVersion !== 'string' || semver.validRange(apiVersion) === null) {
    return fail(
      `apiVersion must be a semver range of the plugin kit it was written for, e.g. "^${KIT_API_VERSION}" (defineMethod and defineSecretProvider fill it in)`,
      name,
    );
  }
  if (!semver.satisfies(KIT_API_VERSION, apiVersion)) {
    const major = semver.minVersion(apiVersion)?.major;
    throw new PluginError(
      ErrorCodes.PLUGIN_API_MISMATCH,
      `plugin "${name}" from ${origin} was written for portcullis/plugin ${apiVersion}, but this portcullis provides portcullis/plugin ${KIT_API_VERSION}${major !== undefined && major > semver.major(KIT_API_VERSION) ? '; upgrade portcullis' : '; use a version of the plugin written for this kit'}`,
      { plugin: name },
    );
  }
  if (typeof candidate.create !== 'function') return fail('create must be a function', name);
  if (candidate.validate !== undefined && typeof candidate.validate !== 'function') {
    return fail('validate must be a function when present', name);
  }
  if (candidate.kind === 'method') {
    // An enum name: it is written to headers, logs and API answers, and told apart from other methods by it.
    if (typeof candidate.method !== 'string' || !/^METHOD_[A-Z0-9_]+$/.test(candidate.method)) {
      return fail(
        'method must be an API enum name: METHOD_ then capitals, digits or _, e.g. METHOD_OIDC',
        name,
      );
    }
    if (typeof candidate.sessionCompatible !== 'boolean')
      return fail('sessionCompatible must be a boolean', name);
    const { methodNumber } = candidate;
    if (methodNumber !== undefined && !(Number.isSafeInteger(methodNumber) && (methodNumber as number) > 0)) {
      return fail('methodNumber must be a positive integer when present', name);
    }
    for (const hook of ['info', 'redirectAddresses'] as const) {
      if (candidate[hook] !== undefined && typeof candidate[hook] !== 'function') {
        return fail(`${hook} must be a function when present`, name);
      }
    }
  }
  return value as Plugin;
}

/**
 * One registry for built-in and third-party plugins. Entries carry their schema fragment, so the configuration
 * can be validated without importing any plugin code; the code of a plugin is imported when it is first needed
 * (when it is enabled), so a disabled method or secret store costs nothing at start-up.
 */
export class PluginRegistry {
  readonly #entries = new Map<string, PluginEntry>();
  readonly #loads = new Map<string, Promise<Plugin>>();

  /** Adds a plugin. A name already taken in the same kind is refused with `ERR_PLUGIN_CONFLICT`. */
  register(entry: PluginEntry): void {
    const key = `${entry.kind}:${entry.name}`;
    const taken = this.#entries.get(key);
    if (taken !== undefined) {
      const by = taken.origin === 'builtin' ? 'the built-in plugin' : `the plugin from ${taken.origin}`;
      throw new PluginError(
        ErrorCodes.PLUGIN_CONFLICT,
        `${KIND_LABELS[entry.kind].one} "${entry.name}" from ${entry.origin} is already registered by ${by}`,
        { plugin: entry.name },
      );
    }
    this.#entries.set(key, entry);
  }

  entry(kind: PluginKind, name: string): PluginEntry | undefined {
    return this.#entries.get(`${kind}:${name}`);
  }

  /** Registered names of one kind, sorted. */
  names(kind: PluginKind): string[] {
    return this.entries(kind)
      .map((e) => e.name)
      .sort();
  }

  /** Registered entries, in registration order (built-ins first, in Flipt's order). */
  entries(kind?: PluginKind): PluginEntry[] {
    return [...this.#entries.values()].filter((e) => kind === undefined || e.kind === kind);
  }

  /** Whether a plugin's code has been imported (or is being imported). */
  isLoaded(kind: PluginKind, name: string): boolean {
    return this.#loads.has(`${kind}:${name}`);
  }

  async method(name: string): Promise<MethodPlugin<object>> {
    return (await this.#load('method', name)) as MethodPlugin<object>;
  }

  async provider(name: string): Promise<SecretProvider<object>> {
    return (await this.#load('secrets', name)) as SecretProvider<object>;
  }

  #load(kind: PluginKind, name: string): Promise<Plugin> {
    const key = `${kind}:${name}`;
    let loading = this.#loads.get(key);
    if (loading === undefined) {
      const entry = this.#entries.get(key);
      if (entry === undefined) {
        const known = this.names(kind).join(', ');
        return Promise.reject(
          new PluginError(
            ErrorCodes.PLUGIN_LOAD,
            `no ${KIND_LABELS[kind].one} "${name}"; registered: ${known}`,
            { plugin: name },
          ),
        );
      }
      loading = loadEntry(entry);
      this.#loads.set(key, loading);
    }
    return loading;
  }
}

async function loadEntry(entry: PluginEntry): Promise<Plugin> {
  let loaded: unknown;
  try {
    loaded = await entry.load();
  } catch (error) {
    throw new PluginError(
      ErrorCodes.PLUGIN_LOAD,
      `${KIND_LABELS[entry.kind].one} "${entry.name}" could not be loaded: ${errorMessage(error)}`,
      { plugin: entry.name, cause: error },
    );
  }
  const plugin = assertPlugin(loaded, entry.origin === 'builtin' ? `built-in ${entry.name}` : entry.origin);
  if (plugin.kind !== entry.kind || plugin.name !== entry.name) {
    throw new PluginError(
      ErrorCodes.PLUGIN_INVALID,
      `${entry.origin} registered ${entry.kind} "${entry.name}" but its code is ${plugin.kind} "${plugin.name}"`,
      { plugin: entry.name },
    );
  }
  return plugin;
}
