import type { SecretProvider } from '../../core/plugins/contracts.ts';
import { notYetAvailable } from '../../core/plugins/unavailable.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `secrets.providers.aws` after validation. */
export interface AwsProviderConfig {
  enabled: boolean;
  endpoint_url?: string;
}

const aws: SecretProvider<AwsProviderConfig> = {
  kind: 'secrets',
  name: 'aws',
  configSchema,
  create() {
    return notYetAvailable('secret provider "aws"');
  },
};

export default aws;
