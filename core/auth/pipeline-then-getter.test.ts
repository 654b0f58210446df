import { describe, expect, it } from 'vitest';
import type { Authentication, MethodInstance } from '../plugins/contracts.ts';
import { MemoryStore } from '../store/memory.ts';
import { CredentialPipeline, type PipelineMethod } from './pipeline.ts';

/**
 * Found in review (issue 21, the pipeline answers at once when it can): a `then` getter that throws is the plugin's
 * refusal (`method_refused` / `not_admitted`), as `await` inside the hook's try made it, never a throw out of
 * `authenticate` (which `decide` would make an error decision, a 500).
 */
const store = () => new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });

/** An answer whose `then` cannot be read. */
const unreadableThen = () =>
  ({
    // biome-ignore lint/suspicious/noThenProperty: a thenable whose then cannot be read is what is tested
    get then(): never {
      throw new Error('then getter broke');
    },
  }) as unknown;

const settle = async (run: () => unknown) => {
  try {
    return { outcome: await run() };
  } catch (error) {
    return { threw: (error as Error).message };
  }
};

describe('a plugin answer whose `then` getter throws is a refusal, not a throw out of the pipeline', () => {
  it('findClientToken', async () => {
    const finder: PipelineMethod = {
      name: 'finder',
      method: 'METHOD_FINDER',
      instance: { findClientToken: () => unreadableThen() as Authentication } as MethodInstance,
    };
    const pipeline = new CredentialPipeline({ store: store(), methods: [finder] });
    expect(await settle(() => pipeline.authenticate({ authorization: 'Bearer x' }))).toEqual({
      outcome: expect.objectContaining({ ok: false, reason: 'method_refused', via: 'bearer' }),
    });
  });

  it('authenticate (a scheme owner)', async () => {
    const owner: PipelineMethod = {
      name: 'owner',
      method: 'METHOD_OWNER',
      instance: {
        schemes: ['JWT'],
        authenticate: () => unreadableThen() as Promise<Authentication>,
      } as MethodInstance,
    };
    const pipeline = new CredentialPipeline({ store: store(), methods: [owner] });
    expect(await settle(() => pipeline.authenticate({ authorization: 'JWT t' }))).toEqual({
      outcome: expect.objectContaining({ ok: false, reason: 'method_refused', via: 'owner' }),
    });
  });

  it('admit', async () => {
    const s = store();
    const session = await s.createAuthentication({ method: 'METHOD_OIDC', metadata: {} });
    const oidc: PipelineMethod = {
      name: 'oidc',
      method: 'METHOD_OIDC',
      instance: { admit: () => unreadableThen() as Promise<void> } as MethodInstance,
    };
    const pipeline = new CredentialPipeline({ store: s, methods: [oidc] });
    expect(await settle(() => pipeline.authenticate({ cookieToken: session.clientToken }))).toEqual({
      outcome: expect.objectContaining({ ok: false, reason: 'not_admitted', via: 'cookie' }),
    });
  });
});
