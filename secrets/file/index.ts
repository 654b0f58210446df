import { defineSecretProvider, requiredMessage } from '../../core/plugins/kit/index.ts';
import type { FileProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { FileProviderConfig } from './config.ts';

import { openFileSource } from './source.ts';

export default defineSecretProvider<typeof configSchema, FileProviderConfig>({
  name: 'file',
  configSchema,
  validate(config) {
    return config.base_path === ''
      ? [{ path: ['base_path'], message: requiredMessage('secrets.providers.file', 'base_path') }]
      : [];
  },
  create(_ctx, config) {
    return openFileSource(config.base_path);
  },
});
