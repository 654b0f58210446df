import type { MethodPlugin } from '../../core/plugins/contracts.ts';
import { notYetAvailable } from '../../core/plugins/unavailable.ts';
import configSchema from './schema.json' with { type: 'json' };

/** `authentication.methods.kubernetes` after validation. */
export interface KubernetesConfig {
  enabled: boolean;
  discovery_url: string;
  ca_path: string;
  service_account_token_path: string;
}

const kubernetes: MethodPlugin<KubernetesConfig> = {
  kind: 'method',
  name: 'kubernetes',
  method: 'METHOD_KUBERNETES',
  sessionCompatible: false,
  configSchema,
  create() {
    return notYetAvailable('authentication method "kubernetes"');
  },
};

export default kubernetes;
