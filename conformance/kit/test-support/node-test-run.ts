// Run by kit.test.ts with `node --test`: the node:test adapter on a small method, fixtures mostly left out.

import { methodPluginCases } from '../index.ts';
import { describeCases } from '../node-test.ts';
import { minimalMethod } from './minimal-method.ts';

describeCases(
  'node:test adapter',
  methodPluginCases(minimalMethod(), {
    config: { password: 'conformance-password' },
    // No scheme owns it: the direct case finds so when it runs, and is skipped then.
    badCredential: 'Bearer conformance-forged-token',
  }),
);
