import type { MethodInstance, MethodPlugin } from '../../../core/plugins/kit/index.ts';

/** The smallest method (`Test` owns nothing until `create` says so), for kit.test.ts and its `node --test` runs. */
export function minimalMethod(create: () => MethodInstance = () => ({})): MethodPlugin<{ password: string }> {
  return {
    kind: 'method',
    apiVersion: '^1.0.0',
    name: 'test',
    method: 'METHOD_TEST',
    sessionCompatible: false,
    configSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, password: { type: 'string' } },
    },
    create,
  };
}
