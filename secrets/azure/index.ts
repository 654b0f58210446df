import { isBlank, requiredMessage } from '../../core/config/flipt-messages.ts';
import type { SecretProvider } from '../../core/plugins/contracts.ts';
import { notYetAvailable } from '../../core/plugins/unavailable.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `secrets.providers.azure` after validation. */
export interface AzureProviderConfig {
  enabled: boolean;
  vault_url?: string;
}

const azure: SecretProvider<AzureProviderConfig> = {
  kind: 'secrets',
  name: 'azure',
  configSchema,
  validate(config) {
    return isBlank(config.vault_url)
      ? [{ path: ['vault_url'], message: requiredMessage('secrets.providers.azure', 'vault_url') }]
      : [];
  },
  create() {
    return notYetAvailable('secret provider "azure"');
  },
};

export default azure;
