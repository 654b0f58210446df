import { defineSecretProvider, isBlank, requiredMessage } from '../../core/plugins/kit/index.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `secrets.providers.azure` after validation. */
export interface AzureProviderConfig {
  enabled: boolean;
  vault_url?: string;
}

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
