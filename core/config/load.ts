import { dirname, extname } from 'node:path';
import {
  ConfigError,
  ErrorCodes,
  errorMessage,
  type LocatedIssue,
  PluginError,
  PortcullisError,
} from '../errors.ts';
import { readFileLimited } from '../fs/read-limited.ts';
import { createRegistry } from '../plugins/builtins.ts';
import type { ConfigIssue, JsonSchema, Plugin } from '../plugins/contracts.ts';
import { loadExternalPlugins } from '../plugins/external.ts';
import { guardSync } from '../plugins/guard.ts';
import type { PluginKind, PluginRegistry } from '../plugins/registry.ts';
import { findSecretReferences, type ReferenceSite } from '../references/find.ts';
import { coerceToSchema, convertDurations } from './coerce.ts';
import { decodeConfigBytes } from './decode.ts';
import { quoteValue } from './describe-value.ts';
import { discoverConfigFile } from './discover.ts';
import { applyEnvOverrides, substituteEnvReferences } from './env.ts';
import { Locator } from './locate.ts';
import { messageRedactor } from './redact.ts';
import { coreRules, type SessionMethod } from './rules.ts';
import { assembleSchema, PLUGIN_SECTIONS } from './schema.ts';
import { cursorAt, isStringMap, rootCursor, type SchemaCursor } from './schema-walk.ts';
import { type ConfigDocument, parseConfigText } from './source.ts';
import { getAt, isPrefixOf, isRecord, type Path, PathPrefixes, recordOf, treeShapeProblems } from './tree.ts';
import type { RootConfig } from './types.ts';
import { unusedKeys } from './unused.ts';
import { createValidator, type SchemaIssue } from './validate.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** How to load a configuration. Every field is optional. */
export interface LoadOptions {
  /** `--config`: a file that must exist. Without it, `searchPaths` are tried, then Flipt's defaults apply. */
  readonly file?: string;
  /** A configuration given as an object instead of a file (embedding); it gets the same treatment. */
  readonly object?: Record<string, unknown>;
  /** Environment for `${env:...}` and `FLIPT_*` overrides; `process.env` by default. */
  readonly env?: Env;
  readonly cwd?: string;
  readonly searchPaths?: readonly string[];
  /** A registry to add third-party plugins to; a fresh one with the built-ins by default. */
  readonly registry?: PluginRegistry;
}

/** A validated configuration, ready for secret resolution and plugin creation. */
export interface LoadedConfig {
  readonly config: RootConfig;
  /** The file it came from; `undefined` when Flipt's defaults (or an object) were used. */
  readonly file: string | undefined;
  /** Things worth telling the operator that do not stop start-up. */
  readonly warnings: readonly LocatedIssue[];
  /** The well-formed secret references, to resolve before plugins are created. */
  readonly references: readonly ReferenceSite[];
  readonly registry: PluginRegistry;
  /** The schema the configuration was validated against (root and every registered plugin's block). */
  readonly schema: JsonSchema;
  readonly locator: Locator;
  /** The environment it was loaded with (`options.env`, else `process.env`); secret stores read their knobs here. */
  readonly env: Env;
}

interface Input {
  readonly file: string | undefined;
  readonly doc: ConfigDocument | undefined;
  readonly tree: Record<string, unknown>;
}

const SUPPORTED_EXTENSIONS = new Set(['', '.yaml', '.yml', '.json']);

/**
 * The most portcullis reads of a configuration file: hundreds of times a large real one, and a bound on what a
 * wrong path (`/dev/zero`, a pipe that never ends) costs.
 */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

async function readInput(options: LoadOptions, cwd: string): Promise<Input> {
  if (options.object !== undefined) {
    const shape = treeShapeProblems(options.object);
    if (shape.length > 0) throw new ConfigError(shape);
    return { file: undefined, doc: undefined, tree: structuredClone(options.object) };
  }
  const file = discoverConfigFile(options.file, cwd, options.searchPaths);
  if (file === undefined) return { file, doc: undefined, tree: {} };
  if (!SUPPORTED_EXTENSIONS.has(extname(file).toLowerCase())) {
    throw new PortcullisError(
      ErrorCodes.CONFIG_READ,
      `configuration file ${file}: unsupported type "${extname(file)}"; use YAML (.yaml, .yml) or JSON (.json)`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFileLimited(file, MAX_CONFIG_BYTES);
  } catch (error) {
    throw new PortcullisError(
      ErrorCodes.CONFIG_READ,
      `cannot read configuration file ${file}: ${errorMessage(error)}`,
    );
  }
  const decoded = decodeConfigBytes(bytes, file);
  if (!decoded.ok) throw new ConfigError([decoded.issue], file);
  const parsed = parseConfigText(decoded.text, file);
  if (!parsed.ok) throw new ConfigError(parsed.issues, file);
  return { file, doc: parsed.doc, tree: parsed.doc.value };
}

/** The `plugins:` list, as far as it can be read before validation (a malformed list is reported later). */
function pluginSpecifiers(tree: Record<string, unknown>): string[] {
  const { plugins } = tree;
  if (typeof plugins === 'string') return plugins.split(/\s+/).filter((item) => item !== '');
  return Array.isArray(plugins) && plugins.every((p) => typeof p === 'string' && p !== '') ? plugins : [];
}

function byPosition(a: LocatedIssue, b: LocatedIssue): number {
  const rank = (i: LocatedIssue): [number, number, number] =>
    i.source === undefined ? [2, 0, 0] : 'env' in i.source ? [1, 0, 0] : [0, i.source.line, i.source.col];
  const [ra, la, ca] = rank(a);
  const [rb, lb, cb] = rank(b);
  return ra - rb || la - lb || ca - cb;
}

interface Prepared {
  readonly input: Input;
  readonly registry: PluginRegistry;
  readonly env: Env;
  readonly substituted: Record<string, unknown>;
  readonly envReferences: ReturnType<typeof substituteEnvReferences>['references'];
  readonly scalarSource: (path: Path) => string | undefined;
}

/** Reads the configuration and registers the third-party plugins it lists; problems with those stop here. */
async function prepare(options: LoadOptions): Promise<Prepared> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const registry = options.registry ?? createRegistry();
  const input = await readInput(options, cwd);
  const scalarSource = (path: Path) => input.doc?.scalarSource(path);

  const { tree, references: envReferences } = substituteEnvReferences(input.tree, env);
  const substituted = tree as Record<string, unknown>;
  // The plugin list is needed before the schema that FLIPT_* variables are matched against exists, so its own
  // variable is read directly (a whitespace-separated list, as for every list).
  const fromEnv = env.FLIPT_PLUGINS !== undefined && env.FLIPT_PLUGINS !== '';
  const specifiers = fromEnv
    ? (env.FLIPT_PLUGINS as string).split(/\s+/).filter((item) => item !== '')
    : pluginSpecifiers(substituted);
  const earlyLocator = new Locator(
    input.doc,
    fromEnv ? [{ path: ['plugins'], variable: 'FLIPT_PLUGINS' }] : [],
    envReferences,
    input.tree,
  );
  const problems = await loadExternalPlugins(registry, specifiers, input.file ? dirname(input.file) : cwd);
  if (problems.length > 0) {
    throw new ConfigError(
      problems.map(({ index, message }) => ({
        path: ['plugins', index],
        message,
        source: earlyLocator.source(['plugins', index], 'value'),
      })),
      input.file,
    );
  }
  return { input, registry, env, substituted, envReferences, scalarSource };
}

/**
 * The registry a configuration would use: the built-ins plus the third-party plugins under its `plugins:`.
 * Nothing else in the configuration is checked (this is what `portcullis schema --config` needs).
 */
export async function loadPluginRegistry(options: LoadOptions = {}): Promise<PluginRegistry> {
  return (await prepare(options)).registry;
}

/**
 * Loads, checks and normalises a configuration, reporting every problem at once as a `ConfigError`:
 * YAML → `${env:...}` → third-party plugins → `FLIPT_*` overrides → typing → JSON Schema (defaults applied) →
 * durations to milliseconds → cross-field rules of the core and of each enabled plugin → secret reference syntax.
 * Secrets are not fetched here.
 */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const { input, registry, env, substituted, envReferences, scalarSource } = await prepare(options);

  const schema = assembleSchema(registry.entries());
  const cursor = rootCursor(schema);
  const { tree: written, sources, refused } = applyEnvOverrides(substituted, cursor, env);
  const locator = new Locator(input.doc, sources, envReferences, input.tree);
  const coercionNotes: ConfigIssue[] = [];
  const typed = coerceToSchema(written, cursor, { scalarSource, notes: coercionNotes }) as Record<
    string,
    unknown
  >;
  // No message repeats a credential, nor a value the environment set (see redact.ts).
  const redact = messageRedactor(schema, typed, { written, references: envReferences, overrides: sources });

  const issues: LocatedIssue[] = [];
  const warnings: LocatedIssue[] = [];
  const located = (issue: ConfigIssue, at: SchemaIssue['at'] = 'key'): LocatedIssue => {
    const variable = locator.envReference(issue.path);
    const shown = redact(issue.message, issue.path);
    const named = variable === undefined || shown.includes(`\${env:${variable}}`);
    const message = named ? shown : `${shown} (from \${env:${variable}})`;
    return { path: issue.path, message, source: locator.source(issue.path, at) };
  };
  for (const note of coercionNotes) warnings.push(located(note, 'value'));

  for (const { path, variable } of refused) {
    issues.push({
      path,
      message: `the key "${String(path.at(-1))}" is not allowed`,
      source: { env: variable },
    });
  }

  const schemaIssues = (await createValidator(schema))(typed);
  for (const issue of schemaIssues) issues.push(located(issue, issue.at));
  const brokenPaths = new PathPrefixes(schemaIssues.map((issue) => issue.path));
  const broken = (path: Path) => brokenPaths.coversPath(path);

  const config = typed as unknown as RootConfig;
  applyCleanupAlias(written, config, locator, issues, located);
  convertDurations(config, cursor);

  const sessionMethods: SessionMethod[] = [];
  for (const kind of ['method', 'secrets'] as const) {
    for (const entry of registry.entries(kind)) {
      const blockPath = [...PLUGIN_SECTIONS[kind], entry.name];
      const block = getAt(config, blockPath);
      if (!isRecord(block) || block.enabled !== true) continue;
      const brokenInBlock = new PathPrefixes();
      let blockBroken = false;
      for (const issue of schemaIssues) {
        if (!isPrefixOf(blockPath, issue.path)) continue;
        brokenInBlock.add(issue.path.slice(blockPath.length));
        blockBroken = true;
      }
      const checked = await validatePlugin(registry, kind, entry.name, block, config, {
        any: blockBroken,
        paths: brokenInBlock,
      });
      for (const issue of checked.issues)
        issues.push(located({ ...issue, path: [...blockPath, ...issue.path] }));
      if (checked.session) sessionMethods.push(checked.session);
    }
  }

  const outcome = coreRules(config, sessionMethods);
  for (const issue of outcome.issues) issues.push(located(issue));
  for (const note of outcome.notes) warnings.push(located(note));

  const unused = unusedKeys(written, cursor);
  const unusedPaths = new PathPrefixes(unused);
  const references = checkReferences(config, {
    registry,
    issues,
    warnings,
    located,
    // Sections portcullis ignores are left alone, and so are the values of plain string maps (token metadata,
    // authorize_parameters), which Flipt keeps literal and the API would show.
    ignore: (path) => unusedPaths.coversPath(path) || isStringMapValue(cursor, path) || broken(path),
  });

  for (const path of unused) {
    const message =
      path.length === 1
        ? `Flipt section "${String(path[0])}" is not used by portcullis; accepted and ignored`
        : 'accepted for Flipt compatibility and ignored';
    warnings.push(located({ path, message }));
  }
  if (input.file === undefined && options.object === undefined) {
    warnings.push({ path: [], message: 'no configuration file found; using defaults' });
  }

  if (issues.length > 0) throw new ConfigError(dedupe(issues).sort(byPosition), input.file);
  return {
    config,
    file: input.file,
    warnings: warnings.sort(byPosition),
    references,
    registry,
    schema,
    locator,
    env,
  };
}

function dedupe(issues: readonly LocatedIssue[]): LocatedIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = JSON.stringify([issue.path, issue.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What a plugin's `validate` returned, checked against the contract. */
function assertIssues(plugin: string, result: unknown): ConfigIssue[] {
  const valid =
    Array.isArray(result) &&
    result.every(
      (issue) =>
        typeof issue === 'object' &&
        issue !== null &&
        Array.isArray((issue as ConfigIssue).path) &&
        typeof (issue as ConfigIssue).message === 'string',
    );
  if (!valid) {
    throw new PluginError(
      ErrorCodes.PLUGIN_INVALID,
      `plugin "${plugin}" failed in validate: it must return an array of { path: [...], message: "..." }`,
      { plugin: plugin },
    );
  }
  return result as ConfigIssue[];
}

/**
 * Runs an enabled plugin's own rules. When its block already failed the schema (`brokenPaths`, relative to the
 * block), the rules still run, so that every problem is reported at once; what they throw is then ignored (the
 * schema errors explain it) and what they find at or under a broken path is dropped as a repeat.
 */
async function validatePlugin(
  registry: PluginRegistry,
  kind: PluginKind,
  name: string,
  block: Record<string, unknown>,
  config: RootConfig,
  brokenPaths: { readonly any: boolean; readonly paths: PathPrefixes },
): Promise<{ issues: ConfigIssue[]; session?: SessionMethod }> {
  let plugin: Plugin;
  try {
    plugin = kind === 'method' ? await registry.method(name) : await registry.provider(name);
  } catch (error) {
    return { issues: [{ path: [], message: errorMessage(error) }] };
  }
  const broken = brokenPaths.any;
  const tolerant = <T>(phase: string, hook: () => T, fallback: T): T => {
    try {
      return guardSync(name, phase, hook);
    } catch (error) {
      if (broken) return fallback;
      throw error;
    }
  };
  const issues = tolerant(
    'validate',
    () => assertIssues(name, plugin.validate?.(block, config) ?? []),
    [],
  ).filter((issue) => !brokenPaths.paths.coversPath(issue.path));
  if (plugin.kind !== 'method' || !plugin.sessionCompatible) return { issues };
  const redirectAddresses = tolerant('redirectAddresses', () => plugin.redirectAddresses?.(block) ?? [], []);
  return { issues, session: { name, redirectAddresses } };
}

/**
 * Flipt's documentation writes `authentication.session.cleanup`; Flipt's schema has
 * `authentication.session.storage.cleanup`. Both are accepted, the first as an alias of the second.
 */
function applyCleanupAlias(
  written: Record<string, unknown>,
  config: RootConfig,
  locator: Locator,
  issues: LocatedIssue[],
  located: (issue: ConfigIssue) => LocatedIssue,
): void {
  const aliasPath = ['authentication', 'session', 'cleanup'];
  const canonicalPath = ['authentication', 'session', 'storage', 'cleanup'];
  const alias = getAt(written, aliasPath);
  if (!isRecord(alias)) return;
  // The schema has refused a storage that is not a mapping; there is nothing to move the alias into.
  const storage = getAt(config, ['authentication', 'session', 'storage']);
  if (!isRecord(storage)) return;
  if (getAt(written, canonicalPath) !== undefined) {
    issues.push(
      located({
        path: aliasPath,
        message: 'is an alias of authentication.session.storage.cleanup; set one of them, not both',
      }),
    );
    return;
  }
  const session = config.authentication.session as unknown as Record<string, unknown>;
  const typedAlias = isRecord(session.cleanup) ? session.cleanup : {};
  storage.cleanup = { ...recordOf(storage.cleanup), ...typedAlias };
  delete session.cleanup;
  locator.addAlias({ written: aliasPath, canonical: canonicalPath });
}

/**
 * Checks every `${secret:...}` without fetching anything. Malformed references, references to providers that
 * do not exist, and references where none can be resolved are errors; a reference to a provider that exists but
 * is not enabled is a warning here, and stops `serve`.
 */
function checkReferences(
  config: RootConfig,
  context: {
    readonly registry: PluginRegistry;
    readonly issues: LocatedIssue[];
    readonly warnings: LocatedIssue[];
    readonly located: (issue: ConfigIssue, at?: SchemaIssue['at']) => LocatedIssue;
    /** Paths whose references are not resolved (nor checked). */
    readonly ignore: (path: Path) => boolean;
  },
): ReferenceSite[] {
  const { registry, issues, warnings, located } = context;
  const usable: ReferenceSite[] = [];
  for (const site of findSecretReferences(config)) {
    const { path, parsed } = site;
    if (context.ignore(path)) continue;
    const section = path[0];
    // The logger starts before references are resolved; providers and plugins are needed to resolve them.
    if (section === 'secrets' || section === 'plugins' || section === 'log') {
      issues.push(
        located(
          {
            path,
            message: `secret references cannot be used under ${section}: (write the value, or \${env:...})`,
          },
          'value',
        ),
      );
    } else if (!parsed.ok) {
      issues.push(located({ path, message: parsed.message }, 'value'));
    } else if (registry.entry('secrets', parsed.reference.provider) === undefined) {
      const { raw, provider } = parsed.reference;
      issues.push(
        located(
          {
            path,
            message: `secret reference ${quoteValue(raw)} names provider ${quoteValue(provider)}, which does not exist; registered providers: ${registry.names('secrets').join(', ')}`,
          },
          'value',
        ),
      );
    } else {
      const { raw, provider } = parsed.reference;
      // Read defensively: this runs on a configuration the schema may have refused (`secrets: x`).
      const block = getAt(config, ['secrets', 'providers', provider]);
      if (!isRecord(block) || block.enabled !== true) {
        warnings.push(
          located(
            {
              path,
              message: `secret reference ${quoteValue(raw)} needs secrets.providers.${provider}.enabled: true; serve stops until it is enabled`,
            },
            'value',
          ),
        );
      }
      usable.push(site);
    }
  }
  return usable;
}

/** Whether `path` is a value of a plain string map (its parent's schema is `additionalProperties: {type: string}`). */
function isStringMapValue(root: SchemaCursor, path: Path): boolean {
  const parent = path.length > 0 ? cursorAt(root, path.slice(0, -1)) : undefined;
  return parent !== undefined && isStringMap(parent);
}
