import Fastify from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CredentialPipeline } from '../auth/pipeline.ts';
import { hashClientToken } from '../auth/token.ts';
import { portcullis } from '../http/plugin.ts';
import { Metrics } from '../observe/metrics.ts';
import { createRuntime } from '../runtime.ts';
import { lookUpTokenHash } from './at-once.ts';
import { MemoryStore } from './memory.ts';
import { observeStore } from './observed.ts';
import type { AuthenticationStore } from './types.ts';

const memory = () => new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });

// The lookup at once is the twin of one lookup function: whoever replaces a store's lookup is asked, however they
// replace it, and a token their lookup refuses is refused.
describe('a replaced token-hash lookup is asked, not skipped for the one at once', () => {
  it('assigned on the runtime’s store (a deny list): a request with a denied token is refused', async () => {
    const runtime = await createRuntime({
      object: { authentication: { required: true, methods: { token: { enabled: true } } } },
      env: {},
      logDestination: { write: () => undefined },
    });
    const app = Fastify();
    await app.register(portcullis, { runtime });
    onTestFinished(async () => {
      await app.close();
      await runtime.close();
    });
    const { clientToken } = await runtime.store.createAuthentication({
      method: 'METHOD_TOKEN',
      metadata: {},
    });
    const self = () =>
      app.inject({ url: '/auth/v1/self', headers: { authorization: `Bearer ${clientToken}` } });
    expect((await self()).statusCode).toBe(200);
    const denied = new Set([hashClientToken(clientToken)]);
    const store = runtime.store as { -readonly [K in keyof AuthenticationStore]: AuthenticationStore[K] };
    const own = store.getAuthenticationByTokenHash.bind(store);
    store.getAuthenticationByTokenHash = async (tokenHash) =>
      denied.has(tokenHash) ? undefined : own(tokenHash);
    expect((await self()).statusCode).toBe(401);
  });

  it('spread from a store with one of its own', async () => {
    const inner = observeStore(memory(), 'memory', new Metrics());
    const asked: string[] = [];
    const wrapped: AuthenticationStore = {
      ...inner,
      getAuthenticationByTokenHash: (tokenHash) => {
        asked.push(tokenHash);
        return inner.getAuthenticationByTokenHash(tokenHash);
      },
    };
    const { clientToken } = await inner.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    const outcome = await new CredentialPipeline({ store: wrapped, methods: [] }).authenticate({
      authorization: `Bearer ${clientToken}`,
    });
    expect(outcome.ok).toBe(true);
    expect(asked).toEqual([hashClientToken(clientToken)]);
  });

  it('overridden in a subclass; one that keeps it still answers at once', async () => {
    class DenyAll extends MemoryStore {
      override async getAuthenticationByTokenHash(_tokenHash: string) {
        return undefined;
      }
    }
    const denying = new DenyAll({ gracePeriodMs: 0, cleanupIntervalMs: 0 });
    const { clientToken } = await denying.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    expect(
      await new CredentialPipeline({ store: denying, methods: [] }).authenticate({
        authorization: `Bearer ${clientToken}`,
      }),
    ).toMatchObject({ ok: false, reason: 'client_token_not_found' });

    class Keeping extends MemoryStore {}
    const keeping = new Keeping({ gracePeriodMs: 0, cleanupIntervalMs: 0 });
    const created = await keeping.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    const found = lookUpTokenHash(keeping, hashClientToken(created.clientToken));
    expect(found).not.toBeInstanceOf(Promise);
    expect(found).toEqual(created.authentication);
  });
});
