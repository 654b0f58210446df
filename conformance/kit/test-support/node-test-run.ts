// Run by kit.test.ts with `node --test`: the node:test adapter on a small method, fixtures mostly left out.

import type { MethodPlugin } from '../../../core/plugins/kit/index.ts';
import { methodPluginCases } from '../index.ts';
import { describeCases } from '../node-test.ts';

const plugin: MethodPlugin<{ password: string }> = {
  kind: 'method',
  apiVersion: '^1.0.0',
  name: 'test',
  method: 'METHOD_TEST',
  sessionCompatible: false,
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { enabled: { type: 'boolean' }, password: { type: 'string' } },
  },
  create: () => ({}),
};

describeCases(
  'node:test adapter',
  methodPluginCases(plugin, {
    config: { password: 'conformance-password' },
    // No scheme owns it: the direct case finds so when it runs, and is skipped then.
    badCredential: 'Bearer conformance-forged-token',
  }),
);
