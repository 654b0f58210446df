import { defineSecretProvider, isBlank, requiredMessage } from '../../core/plugins/kit/index.ts';
import type { AzureProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { AzureProviderConfig } from './config.ts';

export default defineSecretProvider<typeof configSchema, AzureProviderConfig>({
  name: 'azure',
  configSchema,
  validate(config) {
    return isBlank(config.vault_url)
      ? [{ path: ['vault_url'], message: requiredMessage('secrets.providers.azure', 'vault_url') }]
      : [];
  },
  create(ctx) {
    return ctx.error(
      'ERR_PLUGIN_FAILED',
      'secret provider "azure" is validated but not yet available in this version of portcullis; disable it to start',
    );
  },
});
