import {
  defineSecretProvider,
  isBlank,
  isSecretReference,
  parseUrl,
  quoteValue,
  requiredMessage,
} from '../../core/plugins/kit/index.ts';
import type { AzureProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };
// source.ts imports the Azure SDKs only inside openAzureSource: loading this module loads neither.
import { openAzureSource } from './source.ts';

export type { AzureProviderConfig } from './config.ts';

export default defineSecretProvider<typeof configSchema, AzureProviderConfig>({
  name: 'azure',
  configSchema,
  validate(config) {
    if (isBlank(config.vault_url)) {
      return [{ path: ['vault_url'], message: requiredMessage('secrets.providers.azure', 'vault_url') }];
    }
    const url = config.vault_url as string;
    // Key Vault's SDK sends a token only over HTTPS; anything else would fail at the first secret.
    if (!isSecretReference(url) && parseUrl(url)?.protocol !== 'https:') {
      return [
        {
          path: ['vault_url'],
          message: `secrets.providers.azure: vault_url must be an https URL (https://<vault>.vault.azure.net), got ${quoteValue(url)}`,
        },
      ];
    }
    return [];
  },
  create(ctx, config) {
    return openAzureSource(ctx, config);
  },
});
