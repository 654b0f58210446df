import { describe, expect, it } from 'vitest';
import type { Authentication, MethodInstance } from '../plugins/contracts.ts';
import { registryWith, testMethod } from '../test-support/plugins.ts';
import { serveForTest } from '../test-support/server.ts';

/**
 * Found in review (issue 21's request path): a method plugin whose `authenticate` answers an object whose `then`
 * getter throws. Awaited inside a try, that is a refusal, Flipt's 401 (code 16); reading `then` outside it once let
 * the throw leave the pipeline as an error decision, a 500 (code 13).
 */
describe('a plugin answer with a throwing `then` getter, over HTTP', () => {
  it('is Flipt’s 401, as a refusal, not a 500', async () => {
    const answer = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable whose then cannot be read is what is tested
      get then(): never {
        throw new Error('then getter broke');
      },
    };
    const registry = registryWith(
      testMethod(
        'probe',
        () =>
          ({
            schemes: ['Probe'],
            authenticate: () => answer as unknown as Promise<Authentication | null>,
          }) as MethodInstance,
      ),
    );
    const t = await serveForTest(
      { authentication: { required: true, methods: { probe: { enabled: true } } } },
      { registry },
    );
    const response = await t.fetch('/auth/v1/self', { headers: { authorization: 'Probe x' } });
    expect({ status: response.status, body: await response.json() }).toEqual({
      status: 401,
      body: { code: 16, message: 'request was not authenticated', details: [] },
    });
  });
});
