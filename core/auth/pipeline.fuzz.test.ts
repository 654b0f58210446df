/** Issue 20: `Authorization` header parsing against arbitrary header bytes (see core/test-support/fuzz.ts). */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { Authentication, MethodInstance } from '../plugins/contracts.ts';
import { MemoryStore } from '../store/memory.ts';
import { fuzz, fuzzTimeout, headerValue } from '../test-support/fuzz.ts';
import { CredentialPipeline } from './pipeline.ts';
import { hashClientToken } from './token.ts';

const jwt: MethodInstance = {
  schemes: ['JWT'],
  async authenticate(credential): Promise<Authentication | null> {
    return credential.value === 'good' ? { id: '', method: 'METHOD_JWT', metadata: {} } : null;
  },
};

const schemes = fc.constantFrom('Bearer ', 'JWT ', 'bearer ', 'Bearer', 'Basic ', ' Bearer ', 'Bearer  ', '');
const authorization = fc.oneof(
  headerValue(80),
  fc.tuple(schemes, headerValue(80)).map(([scheme, value]) => scheme + value),
);
const cookieToken = fc.option(headerValue(40), { nil: undefined });

it(
  'Authorization parsing: any header and cookie give a decision (ok, or a refusal with a reason), never a throw',
  async () => {
    const store = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });
    const pipeline = new CredentialPipeline({
      store,
      methods: [
        {
          name: 'token',
          method: 'METHOD_TOKEN',
          instance: {
            findClientToken: (hash) =>
              hash === hashClientToken('static')
                ? { id: 'ci', method: 'METHOD_TOKEN', metadata: {} }
                : undefined,
          },
        },
        { name: 'jwt', method: 'METHOD_JWT', instance: jwt },
      ],
    });
    await fuzz(
      'Authorization header parsing',
      fc.tuple(fc.option(authorization, { nil: undefined }), cookieToken),
      async ([header, token]) => {
        const decision = await pipeline.authenticate({ authorization: header, cookieToken: token });
        if (decision.ok) return;
        expect(decision.reason).toMatch(/^[a-z_]+$/);
      },
      3000,
    );
  },
  fuzzTimeout(20_000),
);
