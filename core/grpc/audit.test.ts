import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveForTest } from '../test-support/server.ts';
import { tempDir } from '../test-support/tmp.ts';
import { fliptAuthClient, unaryCall } from './client-harness.ts';

/** The audit events of Flipt's RPCs on `server.grpc_port`: the same as over HTTP, the call's peer as the client. */

const ADMIN = 'admin-secret-4c1d';
const BAD = 'Bearer no-such-token-77aa';

describe('gRPC: audit events', () => {
  it('CreateToken, ExpireAuthenticationSelf, RevokeAuthenticationSelf, DeleteAuthentication and refusals are recorded with the caller and its address', async () => {
    const file = join(tempDir(), 'audit.log');
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN } } } } },
      },
      audit: { sinks: { log: { enabled: true, file } } },
    });
    const client = (service: string) => fliptAuthClient(t.server.grpcAddress, service);
    const tokens = client('AuthenticationMethodTokenService');
    const auth = client('AuthenticationService');
    const create = async (name: string) => {
      const answer = await unaryCall<{ clientToken: string; authentication: { id: string } }>(
        tokens,
        'CreateToken',
        { name },
        { authorization: `Bearer ${ADMIN}` },
      );
      if (!answer.ok) throw new Error(answer.details);
      return answer.value;
    };
    const first = await create('first');
    const second = await create('second');
    expect(
      (
        await unaryCall(
          auth,
          'ExpireAuthenticationSelf',
          {},
          { authorization: `Bearer ${first.clientToken}` },
        )
      ).ok,
    ).toBe(true);
    expect(
      (
        await unaryCall(
          auth,
          'RevokeAuthenticationSelf',
          {},
          { authorization: `Bearer ${second.clientToken}` },
        )
      ).ok,
    ).toBe(true);
    expect((await unaryCall(auth, 'GetAuthenticationSelf', {}, { authorization: BAD })).ok).toBe(false);
    expect(
      (
        await unaryCall(
          auth,
          'DeleteAuthentication',
          { id: first.authentication.id },
          { authorization: `Bearer ${ADMIN}` },
        )
      ).ok,
    ).toBe(true);
    await t.server.close();

    const text = readFileSync(file, 'utf8');
    const events = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; action: string; metadata: { actor: object } });
    expect(events.map((e) => `${e.type}:${e.action}`)).toEqual([
      'token:created',
      'token:created',
      'authentication:expired',
      'logout:self',
      'authentication:refused',
      'token:deleted',
    ]);
    const actor = (i: number) =>
      (events[i] as { metadata: { actor: Record<string, string> } }).metadata.actor;
    // The caller of CreateToken and DeleteAuthentication is the static token; the others their own token.
    for (const i of [0, 1, 2, 3, 5]) expect(actor(i)).toEqual({ authentication: 'token', ip: '127.0.0.1' });
    expect(actor(4)).toEqual({ authentication: 'none', ip: '127.0.0.1' });
    expect(events[0]).toMatchObject({ payload: { 'io.flipt.auth.token.name': 'first' } });
    expect(events[4]).toMatchObject({
      status: 'denied',
      payload: {
        reason: 'client_token_not_found',
        path: '/flipt.auth.AuthenticationService/GetAuthenticationSelf',
      },
    });
    expect(events[5]).toMatchObject({ payload: { 'io.flipt.auth.token.name': 'first' } });
    for (const secret of [ADMIN, first.clientToken, second.clientToken, BAD.slice('Bearer '.length)]) {
      expect(text).not.toContain(secret);
    }
  });
});
