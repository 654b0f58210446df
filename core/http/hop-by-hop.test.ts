import { describe, expect, it } from 'vitest';
import { rawExchange, serveTcp } from '../test-support/raw-http.ts';
import { serveForTest, type TestServer } from '../test-support/server.ts';
import { startUpstream } from '../test-support/upstream.ts';

async function gateway(upstream: string): Promise<TestServer> {
  return serveForTest({
    gateway: { upstream, timeout: '2s' },
    authentication: {
      required: true,
      methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
    },
  });
}

const portOf = (t: TestServer) => Number(new URL(t.url('/')).port);

/** Every header that concerns one hop (RFC 9110 §7.6.1) or a proxy's credentials, as a client or upstream sends it. */
const HOP_HEADERS = [
  'Proxy-Authorization: Basic dXNlcjpwYXNz',
  'Proxy-Authenticate: Basic realm="corporate"',
  'Proxy-Connection: keep-alive',
  'Keep-Alive: timeout=5',
  'TE: trailers',
  'Trailer: X-Checksum',
  'X-Named: by Connection',
  'X-Kept: end to end',
];

/** The headers of {@link HOP_HEADERS} that must not cross the gateway, lower case. */
const DROPPED = [
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'x-named',
];

/** Asserts that none of `names` is among `headers`. */
function expectNone(headers: Readonly<Record<string, unknown>>, names: readonly string[]): void {
  for (const name of names) expect(headers[name], name).toBeUndefined();
}

/** A raw TCP upstream that answers every request (or upgrade) with `answer`, then keeps the connection open. */
async function scriptedUpstream(answer: string): Promise<string> {
  const port = await serveTcp((socket) => socket.once('data', () => socket.write(answer)));
  return `http://127.0.0.1:${port}`;
}

/** An authenticated websocket upgrade, as raw bytes. */
const UPGRADE =
  'GET /socket HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer ci-secret\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';

/** The header names of a raw answer's head, lower case. */
const headerNames = (head: Record<string, string>) => Object.keys(head).sort();

describe('gateway: hop-by-hop headers and proxy credentials stay on their hop', () => {
  it('drops them from requests: Proxy-Authorization, Keep-Alive, TE, Trailer, Upgrade, and what Connection names', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream.url);
    const answer = await rawExchange(portOf(t), [
      [
        'GET /api/x HTTP/1.1',
        'Host: g',
        'Authorization: Bearer ci-secret',
        'Connection: X-Named, close',
        'Upgrade: h2c',
        ...HOP_HEADERS,
        '',
        '',
      ].join('\r\n'),
    ]);
    expect(answer.answers.map((a) => a.status)).toEqual([200]);
    const headers = upstream.received[0]?.headers ?? {};
    expect(headers['x-kept']).toBe('end to end');
    expectNone(headers, [...DROPPED, 'upgrade']);
    // The upstream's own connection to the gateway is kept alive (undici's); the client's `close` is not passed on.
    expect(headers.connection).not.toMatch(/x-named|close/i);
  });

  it('never forwards a header the client’s Connection names, whatever the gateway otherwise re-adds (Cookie, Authorization, X-Forwarded-*), and sets its own from trusted data', async () => {
    const upstream = await startUpstream();
    const t = await serveForTest({
      gateway: {
        upstream: upstream.url,
        timeout: '2s',
        pass_authorization: true,
        trusted_proxies: ['127.0.0.0/8'],
      },
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
      },
    });
    const answer = await rawExchange(portOf(t), [
      [
        'GET /api/c HTTP/1.1',
        'Host: g',
        'Connection: Cookie, X-Secret, Authorization, X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, X-Auth-Request-User, close',
        'Cookie: a=1; flipt_client_token=zzz',
        'X-Secret: s',
        'Authorization: Bearer ci-secret',
        'X-Forwarded-For: 203.0.113.9',
        'X-Forwarded-Host: forged.example',
        'X-Forwarded-Proto: https',
        'X-Auth-Request-User: forged',
        '',
        '',
      ].join('\r\n'),
    ]);
    expect(answer.answers.map((a) => a.status)).toEqual([200]);
    const headers = upstream.received[0]?.headers ?? {};
    expectNone(headers, ['cookie', 'x-secret', 'authorization']);
    // The gateway's own headers are still set, from what it knows rather than from the client's listed ones.
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-host']).toBe('g');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-auth-request-user']).toBe('ci');
  });

  it('drops them from answers: Proxy-Authenticate, Keep-Alive, Trailer, Upgrade, and what the upstream’s Connection names', async () => {
    const upstream = await scriptedUpstream(
      [
        'HTTP/1.1 407 Proxy Authentication Required',
        'Connection: X-Named',
        'Upgrade: h2c',
        'Proxy-Authenticate: Basic realm="upstream"',
        'Proxy-Authorization: Basic leaked',
        'Keep-Alive: timeout=5',
        'Trailer: X-Checksum',
        'X-Named: by Connection',
        'X-Kept: end to end',
        'Content-Length: 2',
        '',
        'no',
      ].join('\r\n'),
    );
    const t = await gateway(upstream);
    const answer = await rawExchange(portOf(t), [
      'GET /api/x HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer ci-secret\r\nConnection: close\r\n\r\n',
    ]);
    const [relayed] = answer.answers;
    expect(relayed?.status).toBe(407);
    expect(relayed?.body).toBe('no');
    expect(relayed?.headers['x-kept']).toBe('end to end');
    expectNone(relayed?.headers ?? {}, [
      'proxy-authenticate',
      'proxy-authorization',
      'keep-alive',
      'trailer',
      'upgrade',
      'x-named',
    ]);
  });

  it('upgrades a websocket with only Connection: Upgrade and Upgrade of them, both ways, and never a 500 for a client’s headers', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream.url);
    const handshake = [
      'GET /socket HTTP/1.1',
      'Host: g',
      'Authorization: Bearer ci-secret',
      'Connection: Upgrade, X-Named',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ...HOP_HEADERS,
      '',
      '',
    ].join('\r\n');
    const answer = await rawExchange(portOf(t), [handshake]);
    expect(answer.answers.map((a) => a.status)).toEqual([101]);
    const received = upstream.received.find((r) => r.method === 'WEBSOCKET')?.headers ?? {};
    expect(received.connection).toBe('Upgrade');
    expect(received.upgrade).toBe('websocket');
    expect(received['x-kept']).toBe('end to end');
    expectNone(received, DROPPED);
  });

  it('passes a 101 on with only Connection: Upgrade and Upgrade: websocket of the upstream’s hop headers', async () => {
    const upstream = await scriptedUpstream(
      [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade, X-Named',
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
        'Proxy-Authenticate: Basic realm="upstream"',
        'Keep-Alive: timeout=5',
        'X-Named: by Connection',
        'X-Kept: end to end',
        '',
        '',
      ].join('\r\n'),
    );
    const t = await gateway(upstream);
    const answer = await rawExchange(portOf(t), [UPGRADE]);
    const [switched] = answer.answers;
    expect(switched?.status).toBe(101);
    expect(headerNames(switched?.headers ?? {})).toEqual([
      'connection',
      'sec-websocket-accept',
      'upgrade',
      'x-kept',
    ]);
    expect(switched?.headers.connection).toBe('Upgrade');
    expect(switched?.headers.upgrade).toBe('websocket');
  });

  it('refuses an upstream that switches a websocket upgrade to another protocol, and passes refusals on without their hop headers', async () => {
    const other = await scriptedUpstream(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
    );
    const switched = await rawExchange(portOf(await gateway(other)), [UPGRADE]);
    expect(switched.answers.map((a) => a.status)).toEqual([502]);
    expect(switched.closedByServer).toBe(true);

    const refusing = await scriptedUpstream(
      'HTTP/1.1 403 Forbidden\r\nConnection: X-Named\r\nX-Named: 1\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nno',
    );
    const refused = await rawExchange(portOf(await gateway(refusing)), [UPGRADE]);
    expect(refused.answers.map((a) => a.status)).toEqual([403]);
    expect(refused.answers[0]?.headers['x-named']).toBeUndefined();
    expect(refused.answers[0]?.headers['proxy-authenticate']).toBeUndefined();
  });
});

describe('gateway: pipelined websocket upgrades', () => {
  it('answers an upgrade only after the answers to the requests before it', async () => {
    const upstream = await startUpstream();
    const t = await serveForTest({
      gateway: { upstream: upstream.url, timeout: '2s' },
      authentication: {
        required: true,
        exclude: { evaluation: true },
        methods: { token: { enabled: true } },
      },
    });
    const answer = await rawExchange(portOf(t), [
      'GET /evaluate/v1/slow?delay=300 HTTP/1.1\r\nHost: g\r\n\r\n' +
        'GET /private/socket HTTP/1.1\r\nHost: g\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    ]);
    expect(answer.answers.map((a) => a.status)).toEqual([200, 401]);
  });
});
