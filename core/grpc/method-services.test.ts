import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { cluster } from '../test-support/kubernetes-cluster.ts';
import { serveForTest, type TestServer } from '../test-support/server.ts';
import { type FliptAuthClient, fliptAuthClient, unaryCall } from './client-harness.ts';
import { fromTimestamp, type Timestamp } from './messages.ts';

/**
 * The methods' gRPC services (CreateToken, VerifyServiceAccount) on `portcullis serve`'s gRPC port: the method's
 * own route answers, so they equal what the HTTP API answers.
 */

const client = (t: TestServer, service: string) => fliptAuthClient(t.server.grpcAddress, service);
const call = <T>(c: FliptAuthClient, rpc: string, request: object, authorization?: string) =>
  unaryCall<T>(c, rpc, request, authorization === undefined ? {} : { authorization });

interface Created {
  clientToken: string;
  authentication: {
    id: string;
    method: string;
    expiresAt: Timestamp | null;
    metadata: Record<string, string>;
  };
}

const ADMIN = 'Bearer admin-secret';
const token = { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } };

describe('gRPC: the methods’ services', () => {
  it('CreateToken makes a token that works over gRPC and HTTP; refusals as the HTTP API gives them', async () => {
    const t = await serveForTest({ authentication: { required: true, methods: { token } } });
    const tokens = client(t, 'AuthenticationMethodTokenService');
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const created = await call<Created>(
      tokens,
      'CreateToken',
      {
        name: 'deploy',
        description: 'CI',
        expiresAt: { seconds: String(expires), nanos: 0 },
        metadata: { team: 'a' },
      },
      ADMIN,
    );
    expect(created.ok).toBe(true);
    if (!created.ok) return;
    const { clientToken, authentication } = created.value;
    expect(authentication.method).toBe('METHOD_TOKEN');
    expect(authentication.metadata).toEqual({
      team: 'a',
      'io.flipt.auth.token.name': 'deploy',
      'io.flipt.auth.token.description': 'CI',
    });
    expect(fromTimestamp(authentication.expiresAt)?.getTime()).toBe(expires * 1000);
    const self = await t.fetch('/auth/v1/self', { headers: { authorization: `Bearer ${clientToken}` } });
    expect(((await self.json()) as { id: string }).id).toBe(authentication.id);
    const selfOverGrpc = await call<{ id: string }>(
      client(t, 'AuthenticationService'),
      'GetAuthenticationSelf',
      {},
      `Bearer ${clientToken}`,
    );
    expect(selfOverGrpc.ok && selfOverGrpc.value.id).toBe(authentication.id);

    expect(await call(tokens, 'CreateToken', { name: 'x' })).toEqual({
      ok: false,
      code: grpc.status.UNAUTHENTICATED,
      details: 'request was not authenticated',
    });
    const http = await t.fetch('/auth/v1/method/token', {
      method: 'POST',
      headers: { authorization: ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: '' }),
    });
    expect(await call(tokens, 'CreateToken', { name: '' }, ADMIN)).toEqual({
      ok: false,
      code: grpc.status.INVALID_ARGUMENT,
      details: ((await http.json()) as { message: string }).message,
    });
  });

  it('VerifyServiceAccount exchanges a service account token for a client token, as the HTTP route does', async () => {
    const c = await cluster();
    const t = await serveForTest({
      authentication: { required: true, methods: { token, kubernetes: c.config } },
    });
    const kubernetes = client(t, 'AuthenticationMethodKubernetesService');
    const answer = await call<Created>(kubernetes, 'VerifyServiceAccount', {
      serviceAccountToken: await c.serviceAccountToken(),
    });
    expect(answer.ok).toBe(true);
    if (!answer.ok) return;
    expect(answer.value.authentication.method).toBe('METHOD_KUBERNETES');
    expect(answer.value.authentication.metadata['io.flipt.auth.k8s.namespace']).toBe('applications');
    const self = await call<{ method: string }>(
      client(t, 'AuthenticationService'),
      'GetAuthenticationSelf',
      {},
      `Bearer ${answer.value.clientToken}`,
    );
    expect(self.ok && self.value.method).toBe('METHOD_KUBERNETES');
    const refused = await call(kubernetes, 'VerifyServiceAccount', { serviceAccountToken: 'not.a.token' });
    expect(refused.ok).toBe(false);
    expect(refused.ok === false && refused.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('a method that does not run has no service: UNIMPLEMENTED', async () => {
    const t = await serveForTest({ authentication: { required: true, methods: { token } } });
    const answer = await call(client(t, 'AuthenticationMethodKubernetesService'), 'VerifyServiceAccount', {
      serviceAccountToken: 'x',
    });
    expect(answer.ok === false && answer.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});
