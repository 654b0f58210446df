import { Ajv, type ErrorObject } from 'ajv';
import type { JsonSchema } from '../plugins/contracts.ts';
import { parseGoDuration } from './duration.ts';
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
const SECRET_REFERENCE = /^\$\{secret:.*\}$/;

/** A configured Ajv: all errors, defaults applied in place, our annotation keywords and formats known. */
export function createAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    useDefaults: true,
    strict: true,
    allowUnionTypes: true,
  });
  // Our annotations, and editor annotations that plugin authors commonly write.
  for (const keyword of ['x-messages', 'x-unused', 'markdownDescription', 'deprecationMessage']) {
    ajv.addKeyword(keyword);
  }
  ajv.addFormat('go-duration', {
    type: 'string',
    validate: (text: string) => parseGoDuration(text) !== undefined,
  });
  return ajv;
}

/**
 * Compiles `schema` into a function that validates a tree, fills in defaults (mutating the tree) and returns
 * every problem at once, in words an operator understands.
 */
export function createValidator(schema: JsonSchema): (tree: unknown) => SchemaIssue[] {
  const validate = createAjv().compile(schema);
  return (tree) => {
    if (validate(tree)) return [];
    return (validate.errors ?? [])
      .filter((error) => error.keyword === 'propertyNames' || error.params.propertyName === undefined)
      .map((error) => describe(error, tree));
  };
}

function describe(error: ErrorObject, tree: unknown): SchemaIssue {
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

  if (typeof custom === 'string') {
    const message = custom
      .replaceAll('{property}', property ?? '')
      .replaceAll('{value}', String(error.data))
      .replaceAll('{allowed}', allowed);
    return { path, message, at };
  }

  let message: string;
  switch (error.keyword) {
    case 'additionalProperties':
      message =
        allowed === ''
          ? `unknown key "${property}"`
          : `unknown key "${property}"; expected one of: ${allowed}`;
      break;
    case 'required':
      message = 'is required';
      break;
    case 'propertyNames':
      message = `invalid key "${property}"`;
      break;
    case 'type':
      message =
        parent.format === 'go-duration'
          ? DURATION_MESSAGE
          : `must be ${String(params.type)
              .split(',')
              .map((t) => TYPE_WORDS[t] ?? t)
              .join(' or ')}`;
      break;
    case 'format':
      message =
        params.format === 'go-duration' ? DURATION_MESSAGE : `must be a valid ${String(params.format)}`;
      break;
    case 'enum':
      message = `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
      break;
    case 'pattern':
      message = `must match the pattern ${String(params.pattern)}`;
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      message = `must be ${String(params.comparison)} ${String(params.limit)}`;
      break;
    case 'minLength':
      message =
        params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`;
      break;
    case 'minItems':
      message = `must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`;
      break;
    default:
      message = error.message ?? `fails the ${error.keyword} rule`;
  }
  if (typeof error.data === 'string' && SECRET_REFERENCE.test(error.data) && at === 'value') {
    message = `\${secret:...} references are resolved only in text settings, and this one ${message}`;
  }
  return { path, message, at };
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
