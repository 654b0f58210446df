import { defineSecretProvider, isBlank, requiredMessage } from '../../core/plugins/kit/index.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `secrets.providers.gcp` after validation. */
export interface GcpProviderConfig {
  enabled: boolean;
  project?: string;
  location?: string;
  credentials?: string;
}

export default defineSecretProvider<typeof configSchema, GcpProviderConfig>({
  name: 'gcp',
  configSchema,
  validate(config) {
    return isBlank(config.project)
      ? [{ path: ['project'], message: requiredMessage('secrets.providers.gcp', 'project') }]
      : [];
  },
  create(ctx) {
    return ctx.error(
      'ERR_PLUGIN_FAILED',
      'secret provider "gcp" is validated but not yet available in this version of portcullis; disable it to start',
    );
  },
});
