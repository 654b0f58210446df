import { defineSecretProvider } from '../../core/plugins/kit/index.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `secrets.providers.aws` after validation. */
export interface AwsProviderConfig {
  enabled: boolean;
  endpoint_url?: string;
}

export default defineSecretProvider<typeof configSchema, AwsProviderConfig>({
  name: 'aws',
  configSchema,
  create(ctx) {
    return ctx.error(
      'ERR_PLUGIN_FAILED',
      'secret provider "aws" is validated but not yet available in this version of portcullis; disable it to start',
    );
  },
});
