// Run by kit.test.ts with `node --test`: the node:test adapter on a method whose create starts an interval and a
// server it never stops (ref'd, as a forgotten refresh loop or listener would be). The lifecycle case must fail, and
// the whole run must still end, though its other cases start the method (and its leaks) again.

import { createServer } from 'node:net';
import { methodPluginCases } from '../index.ts';
import { describeCases } from '../node-test.ts';
import { minimalMethod } from './minimal-method.ts';

const leaking = minimalMethod(() => {
  setInterval(() => undefined, 60_000);
  createServer().listen(0, '127.0.0.1');
  return {};
});

describeCases(
  'node:test adapter, a leaking method',
  methodPluginCases(leaking, { config: { password: 'conformance-password' } }),
);
