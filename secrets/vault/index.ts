import { isBlank, requiredMessage } from '../../core/config/flipt-messages.ts';
import type { ConfigIssue, SecretProvider } from '../../core/plugins/contracts.ts';
import { notYetAvailable } from '../../core/plugins/unavailable.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `secrets.providers.vault` after validation. */
export interface VaultProviderConfig {
  enabled: boolean;
  address?: string;
  auth_method: 'token' | 'kubernetes' | 'approle';
  role?: string;
  mount: string;
  token?: string;
  namespace?: string;
}

const typ = 'secrets.providers.vault';

const vault: SecretProvider<VaultProviderConfig> = {
  kind: 'secrets',
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
  create() {
    return notYetAvailable('secret provider "vault"');
  },
};

export default vault;
