import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, serveTcp } from '../test-support/raw-http.ts';
import { type RedisServer, startRedis } from '../test-support/redis.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { startUpstream } from '../test-support/upstream.ts';

/** A relay to Redis whose answers can be held back: a store slow to answer, whenever a test wants one. */
interface Gate {
  readonly port: number;
  hold(): void;
  release(): void;
}

async function gate(redis: RedisServer): Promise<Gate> {
  let holding = false;
  const stores = new Set<Socket>();
  const port = await serveTcp((client) => {
    const store = connect(redis.port, redis.host);
    stores.add(store);
    if (holding) store.pause();
    client.on('data', (chunk) => store.write(chunk));
    store.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      store.destroy();
      stores.delete(store);
    };
    for (const socket of [client, store]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  return {
    port,
    hold() {
      holding = true;
      for (const store of stores) store.pause();
    },
    release() {
      holding = false;
      for (const store of stores) store.resume();
    },
  };
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.kill());

/** `portcullis serve` with its sessions in Redis behind a gate, and a static token to look with. */
async function serve(gateway?: { upstream: string }): Promise<{ t: TestServer; gate: Gate; port: number }> {
  const held = await gate(redis);
  const t = await serveForTest({
    ...(gateway && { gateway }),
    authentication: {
      required: true,
      session: {
        storage: {
          type: 'redis',
          redis: { host: '127.0.0.1', port: held.port, prefix: `gate-${Date.now()}` },
        },
      },
      methods: { token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } } },
    },
  });
  return { t, gate: held, port: Number(new URL(t.url('/')).port) };
}

/** Creates a stored token (a client token, looked up in Redis on every request). */
async function createToken(t: TestServer, name: string): Promise<{ id: string; token: string }> {
  const response = await t.fetch('/auth/v1/method/token', {
    method: 'POST',
    headers: { ...bearer('admin-secret'), 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(200);
  const created = (await response.json()) as { clientToken: string; authentication: { id: string } };
  return { id: created.authentication.id, token: created.clientToken };
}

/**
 * Sends `request` while Redis is held, so that it is still being authenticated when its client closes the
 * connection; then lets Redis answer, and gives the request time to go on if it would.
 */
async function sendThenLeave(setup: { gate: Gate; port: number }, request: string): Promise<void> {
  setup.gate.hold();
  await rawExchange(setup.port, [request, { wait: 150 }, { close: 'destroy' }], { quietMs: 0 });
  await sleep(50);
  setup.gate.release();
  await sleep(300);
}

const raw = (line: string, token: string, body?: string) =>
  `${line}\r\nHost: g\r\nAuthorization: Bearer ${token}\r\n${
    body === undefined
      ? ''
      : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
  }\r\n${body ?? ''}`;

describe('a request whose client has gone creates, expires and deletes nothing', () => {
  it('DELETE /auth/v1/tokens/{id}', async () => {
    const setup = await serve();
    const actor = await createToken(setup.t, 'actor');
    const victim = await createToken(setup.t, 'victim');
    await sendThenLeave(setup, raw(`DELETE /auth/v1/tokens/${victim.id} HTTP/1.1`, actor.token));
    const still = await setup.t.fetch(`/auth/v1/tokens/${victim.id}`, { headers: bearer('admin-secret') });
    expect(still.status).toBe(200);
  });

  it('PUT /auth/v1/self/expire and DELETE /auth/v1/self/revoke', async () => {
    const setup = await serve();
    const expiring = await createToken(setup.t, 'expiring');
    await sendThenLeave(setup, raw('PUT /auth/v1/self/expire HTTP/1.1', expiring.token));
    const revoking = await createToken(setup.t, 'revoking');
    await sendThenLeave(setup, raw('DELETE /auth/v1/self/revoke HTTP/1.1', revoking.token));
    for (const { token } of [expiring, revoking]) {
      expect((await setup.t.fetch('/auth/v1/self', { headers: bearer(token) })).status).toBe(200);
    }
  });

  it('POST /auth/v1/method/token', async () => {
    const setup = await serve();
    const actor = await createToken(setup.t, 'actor');
    await sendThenLeave(setup, raw('POST /auth/v1/method/token HTTP/1.1', actor.token, '{"name":"ghost"}'));
    const list = await setup.t.fetch('/auth/v1/tokens', { headers: bearer('admin-secret') });
    const names = (
      (await list.json()) as { authentications: Array<{ metadata: Record<string, string> }> }
    ).authentications.map((a) => a.metadata['io.flipt.auth.token.name']);
    expect(names).toContain('actor');
    expect(names).not.toContain('ghost');
  });
});

describe('a request whose client has gone is not sent upstream', () => {
  it('a websocket upgrade', async () => {
    const upstream = await startUpstream();
    const setup = await serve({ upstream: upstream.url });
    const actor = await createToken(setup.t, 'actor');
    const upgrade = [
      'GET /socket HTTP/1.1',
      'Host: g',
      `Authorization: Bearer ${actor.token}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      '',
      '',
    ].join('\r\n');
    await sendThenLeave(setup, upgrade);
    expect(upstream.received).toEqual([]);
    // The same upgrade from a client that stays is joined.
    const stayed = await rawExchange(setup.port, [upgrade]);
    expect(stayed.answers.map((answer) => answer.status)).toEqual([101]);
  });

  it('a proxied request', async () => {
    const upstream = await startUpstream();
    const setup = await serve({ upstream: upstream.url });
    const actor = await createToken(setup.t, 'actor');
    await sendThenLeave(setup, raw('GET /left HTTP/1.1', actor.token));
    expect(upstream.received).toEqual([]);
  });
});

describe('forward-auth, pipelined before a malformed request', () => {
  it('answers the question first, then the malformed request, in order', async () => {
    const setup = await serve();
    const actor = await createToken(setup.t, 'actor');
    setup.gate.hold();
    const exchange = rawExchange(setup.port, [
      `${raw('GET /auth/v1/forward HTTP/1.1', actor.token)}GET /x HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: xchunked\r\n\r\n`,
    ]);
    await sleep(150);
    setup.gate.release();
    const { answers } = await exchange;
    expect(answers.map((answer) => answer.status)).toEqual([200, 400]);
    expect(answers[0]?.headers['x-auth-request-user']).toBe(actor.id);
  });
});
