import { createHash } from 'node:crypto';
import type { Ajv, ErrorObject, Options } from 'ajv';
import type { JsonSchema } from '../plugins/contracts.ts';
import { isSecretReference } from '../references/parse.ts';
import { CredentialMap } from './credentials.ts';
import { describeValue, quoteValue, type ShowOptions, valueText } from './describe-value.ts';
import { formats } from './formats.ts';
import { isRecord, type Path } from './tree.ts';

/** A schema problem before it is given a position: `at` says whether to point at the key or at the value. */
export interface SchemaIssue {
  readonly path: Path;
  readonly message: string;
  readonly at: 'key' | 'value';
}

const DURATION_MESSAGE = 'must be a duration such as 30s, 15m, 1h30m or 500ms';
const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  boolean: 'a boolean (true or false)',
  integer: 'an integer',
  number: 'a number',
  object: 'a mapping',
  array: 'a list',
  null: 'empty',
};

/** Ajv options shared by the runtime compiler and the build-time precompiler. */
export const AJV_OPTIONS = {
  allErrors: true,
  verbose: true,
  useDefaults: true,
  strict: true,
  allowUnionTypes: true,
  // Compiling unoptimised code takes half the time, and a configuration is validated once per start.
  code: { optimize: false },
} as const;

/** Our annotations, and editor annotations that plugin authors commonly write. */
const ANNOTATIONS = ['x-messages', 'x-unused', 'markdownDescription', 'deprecationMessage'];

/** A configured Ajv: all errors, defaults applied in place, our annotation keywords and formats known. */
export async function createAjv(options: Options = {}): Promise<Ajv> {
  // Imported on demand: with the precompiled validator, start-up never needs Ajv itself (~30 ms to load).
  const { Ajv } = await import('ajv');
  const ajv = new Ajv({ ...AJV_OPTIONS, ...options, code: { ...AJV_OPTIONS.code, ...options.code } });
  for (const keyword of ANNOTATIONS) ajv.addKeyword(keyword);
  for (const [name, format] of Object.entries(formats)) ajv.addFormat(name, format);
  return ajv;
}

/** A stable fingerprint of a schema, to find its compiled validator. */
export function schemaHash(schema: JsonSchema): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('base64url');
}

type ValidateFn = (data: unknown) => boolean;
type CompiledValidator = ValidateFn & { errors?: ErrorObject[] | null };

const compiled = new Map<string, CompiledValidator>();

/**
 * The compiled validator of `schema`: the one generated at build time when `schema` is the built-in schema
 * (no third-party plugins), else compiled now; either way compiled once per process.
 */
async function compiledValidator(schema: JsonSchema): Promise<CompiledValidator> {
  const hash = schemaHash(schema);
  let validate = compiled.get(hash);
  if (validate === undefined) {
    validate = (await precompiled(hash)) ?? (await createAjv()).compile(schema);
    compiled.set(hash, validate);
  }
  return validate;
}

/** Whether the validator of `schema` was generated at build time (no third-party plugins, a built `dist/`). */
export async function isPrecompiled(schema: JsonSchema): Promise<boolean> {
  return (await precompiled(schemaHash(schema))) !== undefined;
}

async function precompiled(hash: string): Promise<CompiledValidator | undefined> {
  try {
    const module = (await import(new URL('./builtin-validator.js', import.meta.url).href)) as {
      hash: string;
      validate: CompiledValidator;
    };
    return module.hash === hash ? module.validate : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A function that validates a tree against `schema`, fills in defaults (mutating the tree) and returns every
 * problem at once, in words an operator understands.
 */
export async function createValidator(schema: JsonSchema): Promise<(tree: unknown) => SchemaIssue[]> {
  const validate = await compiledValidator(schema);
  const credentials = new CredentialMap(schema);
  return (tree) => {
    if (validate(tree)) return [];
    return (validate.errors ?? [])
      .filter((error) => (error as { propertyName?: string }).propertyName === undefined)
      .map((error) => describe(error, tree, credentials));
  };
}

function describe(error: ErrorObject, tree: unknown, credentials: CredentialMap): SchemaIssue {
  const base = pointerToPath(error.instancePath, tree);
  const parent = isRecord(error.parentSchema) ? error.parentSchema : {};
  const custom = isRecord(parent['x-messages']) ? parent['x-messages'][error.keyword] : undefined;
  const { params } = error;
  const property = (params.additionalProperty ?? params.missingProperty ?? params.propertyName) as
    | string
    | undefined;
  const allowed = isRecord(parent.properties) ? Object.keys(parent.properties).join(', ') : '';
  const path = property === undefined ? base : [...base, property];
  const at = property === undefined ? 'value' : 'key';
  // A reference is shown even where a credential goes: it names where the secret is kept, not the secret.
  const reference = isSecretReference(error.data);
  // Where a credential goes is read from the whole schema: the keyword that refused the value may stand in a
  // branch of anyOf (or behind a $ref) that does not carry writeOnly itself.
  // (Only for a refused value: a message about a key shows none.)
  const credential = at === 'value' && (parent.writeOnly === true || credentials.isCredentialPlace(base));
  const show = { credential: credential && !reference };

  if (typeof custom === 'string') {
    const message = custom
      .replaceAll('{property}', valueText(property ?? ''))
      // A function, so that the value is described only where a template shows it: an unknown key's error holds
      // the whole mapping, and describing it for each of thousands of keys took time quadratic in their number.
      .replaceAll('{value}', () => valueText(error.data, show))
      .replaceAll('{allowed}', allowed);
    // A template with {value} is Flipt's wording and stays as Flipt writes it; any other is followed by the value.
    const suffix = at === 'value' && !custom.includes('{value}') ? `; got ${given(error, show)}` : '';
    return { path, message: `${message}${suffix}`, at };
  }

  if (at === 'key') return { path, message: keyMessage(error, property ?? '', allowed), at };
  let message = `${valueMessage(error, parent)}; got ${given(error, show)}`;
  if (reference) {
    message = `\${secret:...} references are resolved only in text settings, and this one ${message}`;
  }
  return { path, message, at };
}

/** What is wrong with a key: unknown, missing, or not a valid name. */
function keyMessage(error: ErrorObject, property: string, allowed: string): string {
  const key = quoteValue(property);
  switch (error.keyword) {
    case 'additionalProperties':
      return allowed === '' ? `unknown key ${key}` : `unknown key ${key}; expected one of: ${allowed}`;
    case 'required':
      return 'is required';
    case 'propertyNames':
      return property === '' ? 'an empty key is not allowed' : `invalid key ${key}`;
    default:
      return error.message ?? `fails the ${error.keyword} rule`;
  }
}

/** What a refused value should have been, in words an operator understands (the value itself is added after). */
function valueMessage(error: ErrorObject, parent: Readonly<Record<string, unknown>>): string {
  const { params } = error;
  const limit = Number(params.limit);
  switch (error.keyword) {
    case 'type':
      return parent.format === 'go-duration'
        ? DURATION_MESSAGE
        : `must be ${String(params.type)
            .split(',')
            .map((t) => TYPE_WORDS[t] ?? t)
            .join(' or ')}`;
    case 'format':
      return params.format === 'go-duration' ? DURATION_MESSAGE : `must be a valid ${String(params.format)}`;
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'const':
      return `must be ${String(params.allowedValue)}`;
    case 'pattern':
      return `must match the pattern ${String(params.pattern)}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(params.comparison)} ${String(params.limit)}`;
    case 'minLength':
      return limit === 1 ? 'must not be empty' : `must be at least ${limit} characters long`;
    case 'maxLength':
      return `must be at most ${limit} characters long`;
    case 'minItems':
      return `must have at least ${limit} item${limit === 1 ? '' : 's'}`;
    case 'maxItems':
      return `must have at most ${limit} item${limit === 1 ? '' : 's'}`;
    case 'uniqueItems':
      return 'must not list the same item twice';
    default:
      return error.message ?? `fails the ${error.keyword} rule`;
  }
}

/** What was given, for `; got ...`: the value, or for a repeated list item, that item and where it repeats. */
function given(error: ErrorObject, show: ShowOptions): string {
  if (error.keyword !== 'uniqueItems' || !Array.isArray(error.data)) return describeValue(error.data, show);
  const { i, j } = error.params as { i: number; j: number };
  return `${describeValue(error.data[i], show)} as items ${j} and ${i}`;
}

/** Turns an Ajv instance path (a JSON pointer) into config path segments, with list indices as numbers. */
function pointerToPath(pointer: string, tree: unknown): Path {
  if (pointer === '') return [];
  const path: Array<string | number> = [];
  let node = tree;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) {
      const index = Number(segment);
      path.push(index);
      node = node[index];
    } else {
      path.push(segment);
      node = isRecord(node) ? node[segment] : undefined;
    }
  }
  return path;
}
