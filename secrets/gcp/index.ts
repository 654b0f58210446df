import { defineSecretProvider, isBlank, requiredMessage } from '../../core/plugins/kit/index.ts';
import type { GcpProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { GcpProviderConfig } from './config.ts';

export default defineSecretProvider<typeof configSchema, GcpProviderConfig>({
  name: 'gcp',
  configSchema,
  validate(config) {
    return isBlank(config.project)
      ? [{ path: ['project'], message: requiredMessage('secrets.providers.gcp', 'project') }]
      : [];
  },
  create(ctx) {
    return ctx.error(
      'ERR_PLUGIN_FAILED',
      'secret provider "gcp" is validated but not yet available in this version of portcullis; disable it to start',
    );
  },
});
