import { defineSecretProvider, isBlank, requiredMessage } from '../../core/plugins/kit/index.ts';
import type { GcpProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };
import { openGcpSource } from './source.ts';

export type { GcpProviderConfig } from './config.ts';

export default defineSecretProvider<typeof configSchema, GcpProviderConfig>({
  name: 'gcp',
  configSchema,
  validate(config) {
    return isBlank(config.project)
      ? [{ path: ['project'], message: requiredMessage('secrets.providers.gcp', 'project') }]
      : [];
  },
  create(ctx, config) {
    // The SDK (and its gRPC stack) is loaded by openGcpSource: a runtime without a gcp store never loads it.
    return openGcpSource(config, ctx.env, ctx.log);
  },
});
