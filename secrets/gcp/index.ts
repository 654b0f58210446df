import { isBlank, requiredMessage } from '../../core/config/flipt-messages.ts';
import type { SecretProvider } from '../../core/plugins/contracts.ts';
import { notYetAvailable } from '../../core/plugins/unavailable.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `secrets.providers.gcp` after validation. */
export interface GcpProviderConfig {
  enabled: boolean;
  project?: string;
  location?: string;
  credentials?: string;
}

const gcp: SecretProvider<GcpProviderConfig> = {
  kind: 'secrets',
  name: 'gcp',
  configSchema,
  validate(config) {
    return isBlank(config.project)
      ? [{ path: ['project'], message: requiredMessage('secrets.providers.gcp', 'project') }]
      : [];
  },
  create() {
    return notYetAvailable('secret provider "gcp"');
  },
};

export default gcp;
