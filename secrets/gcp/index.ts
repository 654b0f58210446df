import type { ConfigIssue } from '../../core/plugins/kit/index.ts';
import {
  defineSecretProvider,
  fieldMessage,
  isBlank,
  isSecretReference,
  quoteValue,
  requiredMessage,
} from '../../core/plugins/kit/index.ts';
import type { GcpProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };
import { openGcpSource } from './source.ts';

export type { GcpProviderConfig } from './config.ts';

/** A Google Cloud location (`us-central1`, `europe-west1`): it becomes part of the regional endpoint's host name. */
const LOCATION = /^[a-z][a-z0-9-]*[a-z0-9]$/;

export default defineSecretProvider<typeof configSchema, GcpProviderConfig>({
  name: 'gcp',
  configSchema,
  validate(config) {
    const issues: ConfigIssue[] = [];
    if (isBlank(config.project)) {
      issues.push({ path: ['project'], message: requiredMessage('secrets.providers.gcp', 'project') });
    }
    const { location } = config;
    if (
      location !== undefined &&
      location !== '' &&
      !isSecretReference(location) &&
      !LOCATION.test(location)
    ) {
      issues.push({
        path: ['location'],
        message: fieldMessage(
          'secrets.providers.gcp',
          'location',
          `must be a Google Cloud location such as us-central1, got ${quoteValue(location)}`,
        ),
      });
    }
    return issues;
  },
  create(ctx, config) {
    // The SDK (and its gRPC stack) is loaded by openGcpSource: a runtime without a gcp store never loads it.
    return openGcpSource(config, ctx.env, ctx.log);
  },
});
