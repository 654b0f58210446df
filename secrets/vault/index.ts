import type { ConfigIssue } from '../../core/plugins/kit/index.ts';
import { defineSecretProvider, isBlank, requiredMessage } from '../../core/plugins/kit/index.ts';
import type { VaultProviderConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { VaultProviderConfig } from './config.ts';

const typ = 'secrets.providers.vault';

export default defineSecretProvider<typeof configSchema, VaultProviderConfig>({
  name: 'vault',
  configSchema,
  validate(config) {
    const issues: ConfigIssue[] = [];
    if (isBlank(config.address)) issues.push({ path: ['address'], message: requiredMessage(typ, 'address') });
    const needed = { token: 'token', kubernetes: 'role', approle: 'role' } as const;
    const field = needed[config.auth_method];
    if (field !== undefined && isBlank(config[field]))
      issues.push({ path: [field], message: requiredMessage(typ, field) });
    return issues;
  },
  async create(ctx, config) {
    // The store (and node-vault, which it imports when it opens) loads only when the provider is enabled.
    const { openVaultSource } = await import('./source.ts');
    return openVaultSource(ctx, config);
  },
});
