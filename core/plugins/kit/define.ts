import type { JsonSchema, MethodPlugin, SecretProvider } from '../contracts.ts';
import { KIT_API_VERSION } from './version.ts';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The value type a JSON Schema `type` keyword stands for. */
type FromType<T> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? unknown[]
          : T extends 'object'
            ? Record<string, unknown>
            : unknown;

/** The properties of an object schema: `required` ones, and ones with a `default` (the core applies it), are set. */
type FromProperties<P, R extends string, S> = Writable<
  { [K in keyof P as K extends R ? K : P[K] extends { default: unknown } ? K : never]: FromSchema<P[K]> } & {
    [K in keyof P as K extends R ? never : P[K] extends { default: unknown } ? never : K]?: FromSchema<P[K]>;
  } & (S extends { additionalProperties: infer A }
      ? A extends false | undefined
        ? unknown
        : A extends true
          ? Record<string, unknown>
          : Record<string, FromSchema<A>>
      : unknown)
>;

/**
 * The TypeScript type of the values a JSON Schema (draft-07, written `as const`) accepts, for the keywords plugin
 * schemas use: `type` (one or several), `enum`, `const`, `properties` with `required` and `default`, `items`,
 * `additionalProperties` (maps) and `anyOf`/`oneOf`. `format: duration` values are numbers (milliseconds), as the
 * core converts them. A schema read from a `.json` file has no literal types; give the type to
 * {@link defineMethod} explicitly then.
 */
export type FromSchema<S> = S extends { const: infer V }
  ? V
  : S extends { enum: readonly (infer V)[] }
    ? V
    : S extends { anyOf: readonly (infer U)[] }
      ? FromSchema<U>
      : S extends { oneOf: readonly (infer U)[] }
        ? FromSchema<U>
        : S extends { format: 'duration' }
          ? number
          : S extends { properties: infer P }
            ? FromProperties<P, S extends { required: readonly (infer R extends string)[] } ? R : never, S>
            : S extends { type: 'array'; items: infer I }
              ? FromSchema<I>[]
              : S extends { type: 'object'; additionalProperties: infer A }
                ? A extends false
                  ? Record<string, never>
                  : Record<string, A extends true ? unknown : FromSchema<A>>
                : S extends { type: readonly (infer T)[] }
                  ? FromType<T>
                  : S extends { type: infer T }
                    ? FromType<T>
                    : unknown;

/** A method plugin as `defineMethod` takes it: `kind` and `apiVersion` may be left out. */
export type MethodDefinition<C> = Omit<MethodPlugin<C>, 'kind' | 'apiVersion'> & {
  readonly apiVersion?: string;
};

/** A secret provider as `defineSecretProvider` takes it: `kind` and `apiVersion` may be left out. */
export type SecretProviderDefinition<C> = Omit<SecretProvider<C>, 'kind' | 'apiVersion'> & {
  readonly apiVersion?: string;
};

const currentMajor = `^${KIT_API_VERSION}`;

/**
 * Declares a method plugin. `kind` is filled in and `apiVersion` defaults to this kit's major (`^1.0.0`), so a
 * plugin built against this kit is refused by a portcullis whose kit is another major. The config type of
 * `validate`, `info`, `redirectAddresses` and `create` is read from `configSchema` when that is written `as const`,
 * or given explicitly: `defineMethod<MyConfig>({...})`.
 *
 * @example
 * ```ts
 * import { defineMethod } from 'portcullis/plugin';
 * const schema = {
 *   type: 'object',
 *   additionalProperties: false,
 *   properties: { enabled: { type: 'boolean' }, file: { type: 'string' } },
 *   required: ['file'],
 * } as const;
 * export default defineMethod({
 *   name: 'htpasswd',
 *   method: 'METHOD_HTPASSWD',
 *   sessionCompatible: false,
 *   configSchema: schema,
 *   create: (ctx, config) => ({ schemes: ['Basic'], authenticate: async () => null }), // config.file: string
 * });
 * ```
 */
export function defineMethod<const S extends JsonSchema, C = FromSchema<S>>(
  definition: MethodDefinition<C> & { readonly configSchema: S },
): MethodPlugin<C> {
  return { apiVersion: currentMajor, ...definition, kind: 'method' };
}

/** Declares a secret provider; as {@link defineMethod}, for `secrets.providers.<name>`. */
export function defineSecretProvider<const S extends JsonSchema, C = FromSchema<S>>(
  definition: SecretProviderDefinition<C> & { readonly configSchema: S },
): SecretProvider<C> {
  return { apiVersion: currentMajor, ...definition, kind: 'secrets' };
}
