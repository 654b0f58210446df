import {
  defineSecretProvider,
  fieldMessage,
  isHttpUrl,
  isSecretReference,
} from '../../core/plugins/kit/index.ts';
import type { AwsProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };
// The store's module imports the SDK's types only; the SDK itself is loaded by create.
import { openAwsSource } from './source.ts';

export type { AwsProviderConfig } from './config.ts';

export default defineSecretProvider<typeof configSchema, AwsProviderConfig>({
  name: 'aws',
  configSchema,
  validate(config) {
    const url = config.endpoint_url;
    return url !== undefined && !isSecretReference(url) && !isHttpUrl(url)
      ? [
          {
            path: ['endpoint_url'],
            message: fieldMessage(
              'secrets.providers.aws',
              'endpoint_url',
              'must be an absolute http:// or https:// URL',
            ),
          },
        ]
      : [];
  },
  create(ctx, config) {
    return openAwsSource(ctx, config);
  },
});
