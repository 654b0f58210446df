import { describe, expectTypeOf, it } from 'vitest';
import { defineMethod, type FromSchema } from './define.ts';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    file: { type: 'string' },
    realm: { type: 'string', default: 'portcullis' },
    cost: { type: 'integer' },
    mode: { enum: ['strict', 'lax'] },
    ttl: { type: 'string', format: 'duration', default: '1h' },
    users: { type: 'array', items: { type: 'string' } },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    nested: {
      type: 'object',
      additionalProperties: false,
      properties: { url: { type: 'string' } },
      required: ['url'],
    },
  },
  required: ['file'],
} as const;

describe('FromSchema', () => {
  it('types a config from a schema written as const: required and defaulted keys are set, others optional', () => {
    type Config = FromSchema<typeof schema>;
    expectTypeOf<Config['file']>().toEqualTypeOf<string>();
    expectTypeOf<Config['realm']>().toEqualTypeOf<string>();
    expectTypeOf<Config['ttl']>().toEqualTypeOf<number>();
    expectTypeOf<Config['cost']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Config['mode']>().toEqualTypeOf<'strict' | 'lax' | undefined>();
    expectTypeOf<Config['users']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<Config['labels']>().toEqualTypeOf<Record<string, string> | undefined>();
    expectTypeOf<NonNullable<Config['nested']>['url']>().toEqualTypeOf<string>();
  });

  it('gives defineMethod hooks that config type', () => {
    const plugin = defineMethod({
      name: 'typed',
      method: 'METHOD_TYPED',
      sessionCompatible: false,
      configSchema: schema,
      validate(config) {
        expectTypeOf(config.file).toEqualTypeOf<string>();
        return [];
      },
      create(_ctx, config) {
        expectTypeOf(config.ttl).toEqualTypeOf<number>();
        return {};
      },
    });
    expectTypeOf(plugin.kind).toEqualTypeOf<'method'>();
  });
});
