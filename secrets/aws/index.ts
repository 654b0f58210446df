import { defineSecretProvider } from '../../core/plugins/kit/index.ts';
import type { AwsProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { AwsProviderConfig } from './config.ts';

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
