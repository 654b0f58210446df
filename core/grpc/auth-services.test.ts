import * as grpc from '@grpc/grpc-js';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { portcullis } from '../http/plugin.ts';
import { createRuntime, type Runtime } from '../runtime.ts';
import { startRedis } from '../test-support/redis.ts';
import { authServices } from './auth-services.ts';
import { type FliptAuthClient, fliptAuthClient, unaryCall } from './client-harness.ts';
import { fromTimestamp, type Timestamp } from './messages.ts';

/**
 * Flipt's auth services over real gRPC (grpc-js server and client on loopback), against the same runtime as the
 * HTTP API, whose answers they must equal.
 */

const STATIC = 'static-secret';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  readonly runtime: Runtime;
  readonly http: ReturnType<typeof Fastify>;
  client(service: string): FliptAuthClient;
}

async function setup(authentication: Record<string, unknown> = {}): Promise<Setup> {
  const runtime = await createRuntime({
    object: {
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: STATIC } } } } },
        ...authentication,
      },
    },
    env: {},
    logDestination: { write: () => undefined },
  });
  const server = new grpc.Server();
  for (const binding of authServices(runtime)) server.addService(binding.definition, binding.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const http = Fastify();
  await http.register(portcullis, { runtime });
  cleanups.push(async () => {
    server.forceShutdown();
    await http.close();
    await runtime.close();
  });
  return { runtime, http, client: (service) => fliptAuthClient(`127.0.0.1:${port}`, service) };
}

/** Calls a unary RPC with `authorization` metadata (when given); resolves to its answer or its status. */
const call = <T>(client: FliptAuthClient, rpc: string, request: object, authorization?: string) =>
  unaryCall<T>(client, rpc, request, authorization === undefined ? {} : { authorization });

/** A gRPC `Authentication` as the HTTP API writes one (the JSON form), to compare the two transports. */
function asJson(message: {
  id: string;
  method: string;
  expiresAt: Timestamp | null;
  createdAt: Timestamp | null;
  updatedAt: Timestamp | null;
  metadata: Record<string, string>;
}) {
  const iso = (t: Timestamp | null) => fromTimestamp(t)?.toISOString();
  return {
    id: message.id,
    method: message.method,
    expiresAt: iso(message.expiresAt),
    createdAt: iso(message.createdAt),
    updatedAt: iso(message.updatedAt),
    metadata: message.metadata,
  };
}

function httpJson(body: Record<string, unknown>) {
  const iso = (value: unknown) => (typeof value === 'string' ? new Date(value).toISOString() : undefined);
  return {
    id: body.id,
    method: body.method,
    expiresAt: iso(body.expiresAt),
    createdAt: iso(body.createdAt),
    updatedAt: iso(body.updatedAt),
    metadata: body.metadata ?? {},
  };
}

describe('gRPC: flipt.auth services', () => {
  it('GetAuthenticationSelf with a static token and a stored one answers as GET /auth/v1/self does', async () => {
    const s = await setup();
    const auth = s.client('AuthenticationService');
    const stored = await s.runtime.store.createAuthentication({
      method: 'METHOD_TOKEN',
      expiresAt: new Date(Date.now() + 3_600_000),
      metadata: { 'io.flipt.auth.token.name': 'deploy' },
    });
    for (const credential of [STATIC, stored.clientToken]) {
      const answer = await call<Parameters<typeof asJson>[0]>(
        auth,
        'GetAuthenticationSelf',
        {},
        `Bearer ${credential}`,
      );
      expect(answer.ok).toBe(true);
      const http = await s.http.inject({
        url: '/auth/v1/self',
        headers: { authorization: `Bearer ${credential}` },
      });
      expect(http.statusCode).toBe(200);
      if (answer.ok) expect(asJson(answer.value)).toEqual(httpJson(http.json()));
    }
  });

  it('missing, malformed, unknown and expired credentials: UNAUTHENTICATED with Flipt’s message', async () => {
    const s = await setup();
    const auth = s.client('AuthenticationService');
    const expired = await s.runtime.store.createAuthentication({
      method: 'METHOD_TOKEN',
      expiresAt: new Date(Date.now() - 1000),
      metadata: {},
    });
    for (const authorization of [
      undefined,
      '',
      'Bearer',
      'bearer static-secret',
      'Basic c3RhdGljLXNlY3JldA==',
      'Bearer not-a-token',
      'JWT not.a.jwt',
      `Bearer ${expired.clientToken}`,
    ]) {
      for (const [rpc, request] of [
        ['GetAuthenticationSelf', {}],
        ['ListAuthentications', {}],
        ['GetAuthentication', { id: 'x' }],
        ['DeleteAuthentication', { id: 'x' }],
        ['ExpireAuthenticationSelf', {}],
      ] as const) {
        const answer = await call(auth, rpc, request, authorization);
        expect({ authorization, rpc, answer }).toEqual({
          authorization,
          rpc,
          answer: { ok: false, code: grpc.status.UNAUTHENTICATED, details: 'request was not authenticated' },
        });
      }
    }
  });

  it('ListAuthentications, GetAuthentication, DeleteAuthentication: the same state as the HTTP API sees', async () => {
    const s = await setup();
    const auth = s.client('AuthenticationService');
    const bearer = `Bearer ${STATIC}`;
    for (let index = 0; index < 5; index++) {
      await s.runtime.store.createAuthentication({ method: 'METHOD_TOKEN', metadata: { n: String(index) } });
    }
    const listed = await call<{ authentications: Parameters<typeof asJson>[0][]; nextPageToken: string }>(
      auth,
      'ListAuthentications',
      { method: 'METHOD_TOKEN', limit: 2 },
      bearer,
    );
    const http = await s.http.inject({
      url: '/auth/v1/tokens?method=METHOD_TOKEN&limit=2',
      headers: { authorization: bearer },
    });
    expect(listed.ok).toBe(true);
    if (!listed.ok) return;
    const body = http.json() as { authentications: Record<string, unknown>[]; nextPageToken: string };
    expect(listed.value.authentications.map(asJson)).toEqual(body.authentications.map(httpJson));
    expect(listed.value.nextPageToken).toBe(body.nextPageToken);

    const first = listed.value.authentications[0] as Parameters<typeof asJson>[0];
    const got = await call<Parameters<typeof asJson>[0]>(auth, 'GetAuthentication', { id: first.id }, bearer);
    expect(got.ok && asJson(got.value)).toEqual(asJson(first));
    expect(await call(auth, 'GetAuthentication', { id: 'nope' }, bearer)).toEqual({
      ok: false,
      code: grpc.status.NOT_FOUND,
      details: (
        await s.http.inject({ url: '/auth/v1/tokens/nope', headers: { authorization: bearer } })
      ).json().message,
    });
    expect(await call(auth, 'DeleteAuthentication', { id: first.id }, bearer)).toEqual({
      ok: true,
      value: {},
    });
    expect(
      (await s.http.inject({ url: `/auth/v1/tokens/${first.id}`, headers: { authorization: bearer } }))
        .statusCode,
    ).toBe(404);
    expect(await call(auth, 'ListAuthentications', { method: 'METHOD_OIDC' }, bearer)).toEqual({
      ok: true,
      value: { authentications: [], nextPageToken: '' },
    });
  });

  it('ExpireAuthenticationSelf expires the caller (now, or at the time given)', async () => {
    const s = await setup();
    const auth = s.client('AuthenticationService');
    const later = await s.runtime.store.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    const at = new Date(Date.now() + 120_000);
    const seconds = Math.floor(at.getTime() / 1000);
    expect(
      await call(
        auth,
        'ExpireAuthenticationSelf',
        { expiresAt: { seconds: String(seconds), nanos: 0 } },
        `Bearer ${later.clientToken}`,
      ),
    ).toEqual({ ok: true, value: {} });
    expect((await s.runtime.store.getAuthenticationById(later.authentication.id))?.expiresAt?.getTime()).toBe(
      seconds * 1000,
    );
    const now = await s.runtime.store.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    expect(await call(auth, 'ExpireAuthenticationSelf', {}, `Bearer ${now.clientToken}`)).toEqual({
      ok: true,
      value: {},
    });
    expect((await call(auth, 'GetAuthenticationSelf', {}, `Bearer ${now.clientToken}`)).ok).toBe(false);
  });

  it('ListAuthenticationMethods needs no credential and lists what GET /auth/v1/method lists', async () => {
    const s = await setup();
    const answer = await call<{
      methods: Array<{ method: string; enabled: boolean; sessionCompatible: boolean }>;
    }>(s.client('PublicAuthenticationService'), 'ListAuthenticationMethods', {});
    expect(answer.ok).toBe(true);
    const http = (await s.http.inject({ url: '/auth/v1/method' })).json() as {
      methods: Array<{ method: string; enabled: boolean; sessionCompatible: boolean }>;
    };
    if (answer.ok) {
      expect(
        answer.value.methods.map(({ method, enabled, sessionCompatible }) => ({
          method,
          enabled,
          sessionCompatible,
        })),
      ).toEqual(
        http.methods.map(({ method, enabled, sessionCompatible }) => ({
          method,
          enabled,
          sessionCompatible,
        })),
      );
    }
  });

  it('a store that is down: UNAVAILABLE with the message the HTTP API gives, never an internal error', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.kill());
    const s = await setup({
      session: {
        storage: { type: 'redis', redis: { host: redis.host, port: redis.port, net_timeout: '300ms' } },
      },
    });
    const auth = s.client('AuthenticationService');
    const stored = await s.runtime.store.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    await redis.kill();
    const http = await s.http.inject({
      url: '/auth/v1/tokens',
      headers: { authorization: `Bearer ${STATIC}` },
    });
    expect(http.statusCode).toBe(503);
    for (const [rpc, request, credential] of [
      ['ListAuthentications', {}, STATIC],
      ['GetAuthentication', { id: stored.authentication.id }, STATIC],
      ['GetAuthenticationSelf', {}, stored.clientToken],
    ] as const) {
      expect({ rpc, answer: await call(auth, rpc, request, `Bearer ${credential}`) }).toEqual({
        rpc,
        answer: { ok: false, code: grpc.status.UNAVAILABLE, details: http.json().message },
      });
    }
  });

  it('with required false, no call is authenticated: the ones about the caller are refused, the others open', async () => {
    const s = await setup({ required: false });
    const auth = s.client('AuthenticationService');
    for (const authorization of [undefined, `Bearer ${STATIC}`]) {
      expect((await call(auth, 'ListAuthentications', {}, authorization)).ok).toBe(true);
      expect(await call(auth, 'GetAuthenticationSelf', {}, authorization)).toEqual({
        ok: false,
        code: grpc.status.UNAUTHENTICATED,
        details: 'request was not authenticated',
      });
    }
  });

  it('without a method and without required, AuthenticationService is not served (UNIMPLEMENTED), as in Flipt', async () => {
    const s = await setup({ required: false, methods: {} });
    const answer = await call(s.client('AuthenticationService'), 'ListAuthentications', {});
    expect(answer.ok === false && answer.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});
