/**
 * Issue 14: a path that some reader decodes into another must never pass an exclusion. End to end through the
 * gateway (reverse proxy and websockets) and forward-auth, over raw sockets, since fetch would normalise the very
 * spellings under test (WHATWG URL parsing removes `%2e` segments and encodes raw bytes).
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serveForTest, type TestServer } from '../test-support/server.ts';
import { startUpstream, type TestUpstream } from '../test-support/upstream.ts';

/** The status line's code of one HTTP/1.1 request sent as these very bytes (`head` before `\r\n\r\n`). */
function rawStatus(address: string, head: Buffer): Promise<number> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      // Not end(): a half-closed connection is a client gone away, whose request the gateway stops.
      socket.write(Buffer.concat([head, Buffer.from('\r\n\r\n')]));
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(answer);
      if (status !== null) {
        socket.destroy();
        resolve(Number(status[1]));
      }
    });
    socket.on('error', reject);
    socket.on('end', () => reject(new Error(`no status line in ${JSON.stringify(answer)}`)));
  });
}

/** `GET <target>` with the target's characters sent as single bytes (Latin-1), so raw bytes go out raw. */
const get = (target: string, headers: string[] = []) =>
  Buffer.from(
    [`GET ${target} HTTP/1.1`, 'Host: portcullis', 'Connection: close', ...headers].join('\r\n'),
    'latin1',
  );

/**
 * Spellings of a climb from an excluded section into `/api/v1/flags`, or of an excluded path, that some reader
 * decodes into another path, each with the gateway's answer: 401, or 400 for a target that is not even valid
 * percent-encoded UTF-8 (Fastify's router, and the websocket proxy, refuse those before anything else). Forward-auth
 * gets the same spellings in a header, and answers 401 to all.
 */
const SPELLINGS: ReadonlyArray<readonly [path: string, gatewayStatus: number]> = [
  ['/evaluate/v1/%252e%252e/%252e%252e/api/v1/flags', 401],
  ['/evaluate/v1/%252E%252E/%252E%252E/api/v1/flags', 401],
  ['/evaluate/v1/..%252f..%252fapi/v1/flags', 401],
  ['/evaluate/v1/%25252e%25252e/%25252e%25252e/api/v1/flags', 401],
  ['/evaluate/v1/%2e%2E/%2E%2e/api/v1/flags', 401],
  ['/evaluate/v1/%61pi', 401],
  ['/evaluate/v1/a%20b', 401],
  ['/evaluate/v1/%%32%65%%32%65/%%32%65%%32%65/api/v1/flags', 400],
  ['/evaluate/v1/%c0%ae%c0%ae/%c0%ae%c0%ae/api/v1/flags', 400],
  ['/evaluate/v1/%e0%80%ae%e0%80%ae/%e0%80%ae%e0%80%ae/api/v1/flags', 400],
  ['/evaluate/v1/%u002e%u002e/%u002e%u002e/api/v1/flags', 400],
  ['/evaluate/v1/100%', 400],
  // Raw bytes outside ASCII: UTF-8 of U+FF0E FULLWIDTH FULL STOP (NFKC "."), and a lone Latin-1 byte.
  ['/evaluate/v1/\u00ef\u00bc\u008e\u00ef\u00bc\u008e/api/v1/flags', 400],
  ['/evaluate/v1/\u00ae', 400],
];

async function gateway(upstream: TestUpstream): Promise<TestServer> {
  return serveForTest({
    gateway: {
      upstream: upstream.url,
      timeout: '2s',
      sections: { public: { prefixes: ['/public'], exclude: true } },
    },
    authentication: {
      required: true,
      exclude: { evaluation: true },
      methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
    },
  });
}

describe('exclusions end to end: only a path that decodes to itself is excluded', () => {
  it('gateway: 401 for every ambiguous spelling, and the upstream receives nothing', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    for (const [path, status] of SPELLINGS) {
      for (const spelled of [path, path.replace('/evaluate/v1', '/public')]) {
        expect(await rawStatus(t.server.address, get(spelled)), JSON.stringify(spelled)).toBe(status);
      }
    }
    expect(upstream.received).toEqual([]);
    // A plain path in the same sections still needs nothing.
    expect(await rawStatus(t.server.address, get('/evaluate/v1/boolean'))).toBe(200);
    expect(await rawStatus(t.server.address, get('/public/index.html'))).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(['/evaluate/v1/boolean', '/public/index.html']);
  });

  it('gateway websockets: 401 for an ambiguous spelling, before anything reaches the upstream', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    const upgrade = [
      'Upgrade: websocket',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ];
    const head = (path: string) =>
      Buffer.from(
        [`GET ${path} HTTP/1.1`, 'Host: portcullis', 'Connection: Upgrade', ...upgrade].join('\r\n'),
        'latin1',
      );
    for (const [path, status] of SPELLINGS) {
      expect(await rawStatus(t.server.address, head(path)), JSON.stringify(path)).toBe(status);
    }
    expect(upstream.received).toEqual([]);
    expect(await rawStatus(t.server.address, head('/evaluate/v1/stream'))).toBe(101);
  });

  it('forward-auth: 401 for every ambiguous X-Forwarded-Uri and X-Original-URI, 200 for the plain path', async () => {
    const t = await serveForTest({
      authentication: {
        required: true,
        exclude: { evaluation: true },
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
      },
    });
    for (const header of ['X-Forwarded-Uri', 'X-Original-URI']) {
      for (const [uri] of SPELLINGS) {
        const status = await rawStatus(t.server.address, get('/auth/v1/forward', [`${header}: ${uri}`]));
        expect(status, `${header}: ${JSON.stringify(uri)}`).toBe(401);
      }
      expect(
        await rawStatus(t.server.address, get('/auth/v1/forward', [`${header}: /evaluate/v1/boolean`])),
      ).toBe(200);
    }
  });
});
