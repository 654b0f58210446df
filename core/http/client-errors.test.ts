import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type RawAnswer, rawExchange } from '../test-support/raw-http.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { answerClientError } from './client-errors.ts';
import { trackConnections } from './connections.ts';

async function serve(): Promise<TestServer> {
  return serveForTest({
    authentication: {
      required: true,
      methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
    },
  });
}

const portOf = (t: TestServer) => Number(new URL(t.url('/')).port);

/** An answer's status and its body as JSON (the text itself when it is not JSON). */
function shape(answer: RawAnswer | undefined): { status: number | undefined; body: unknown } {
  let body: unknown = answer?.body;
  try {
    body = JSON.parse(answer?.body ?? '');
  } catch {}
  return { status: answer?.status, body };
}

/** Flipt's error body with `code`, whatever its message. */
const flipt = (code: number, message: unknown = expect.any(String)) => ({ code, message, details: [] });

describe('errors answered outside route handlers, in Flipt’s shape', () => {
  it('answers requests Node cannot parse with 400, and headers too large with 431', async () => {
    const t = await serve();
    const cases: Array<[string, string, number, number]> = [
      ['bad header', 'GET /auth/v1/self HTTP/1.1\r\nHost: g\r\nX-A: a\0b\r\n\r\n', 400, 3],
      ['obs-fold', 'GET /auth/v1/self HTTP/1.1\r\nHost: g\r\nX-A: a\r\n b\r\n\r\n', 400, 3],
      [
        'transfer coding',
        'GET /auth/v1/self HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: xchunked\r\n\r\n',
        400,
        3,
      ],
      // Admitted at once (a static token): still Node's 400, not an answer to a request it could not parse.
      [
        'transfer coding, admitted',
        'GET /auth/v1/self HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer ci-secret\r\nTransfer-Encoding: xchunked\r\n\r\n',
        400,
        3,
      ],
      [
        'bad chunk',
        'POST /auth/v1/method/token HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
        400,
        3,
      ],
      ['invalid method', 'G@T / HTTP/1.1\r\nHost: g\r\n\r\n', 400, 3],
      ['too large', `GET / HTTP/1.1\r\nHost: g\r\nX-A: ${'a'.repeat(100 * 1024)}\r\n\r\n`, 431, 8],
    ];
    for (const [what, request, status, code] of cases) {
      const exchange = await rawExchange(portOf(t), [request]);
      expect(shape(exchange.answers[0]), what).toEqual({ status, body: flipt(code) });
      expect(exchange.answers[0]?.headers.connection, what).toBe('close');
      expect(exchange.closedByServer, what).toBe(true);
    }
    const named = await rawExchange(portOf(t), [
      'GET / HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: xchunked\r\n\r\n',
    ]);
    expect(shape(named.answers[0]).body).toEqual(
      flipt(3, 'malformed HTTP request: Request has invalid `Transfer-Encoding`'),
    );
  });

  it('keeps the status of body errors: bad JSON 400, a wrong content type 415, a body too large 413', async () => {
    const t = await serve();
    const post = (body: string, type: string) =>
      t.fetch('/auth/v1/method/token', {
        method: 'POST',
        headers: { ...bearer('ci-secret'), 'content-type': type },
        body,
      });
    const badJson = await post('{"name":', 'application/json');
    expect({ status: badJson.status, body: await badJson.json() }).toEqual({ status: 400, body: flipt(3) });
    const wrongType = await post('<name>x</name>', 'application/xml');
    expect({ status: wrongType.status, body: await wrongType.json() }).toEqual({
      status: 415,
      body: flipt(3),
    });
    const tooLarge = await post(
      JSON.stringify({ name: 'x', description: 'd'.repeat(20_000) }),
      'application/json',
    );
    expect({ status: tooLarge.status, body: await tooLarge.json() }).toEqual({
      status: 413,
      body: flipt(8, 'Request body is too large'),
    });
  });

  it('answers URL errors in Flipt’s shape with their status', async () => {
    const t = await serve();
    const undecodable = await t.fetch('/auth/v1/tokens/%zz', { headers: bearer('ci-secret') });
    expect({ status: undecodable.status, body: await undecodable.json() }).toEqual({
      status: 400,
      body: flipt(3),
    });
    const long = await t.fetch(`/auth/v1/tokens/${'x'.repeat(150)}`, { headers: bearer('ci-secret') });
    expect({ status: long.status, body: await long.json() }).toEqual({ status: 414, body: flipt(8) });
  });

  it('refuses CONNECT with 405 after answering the requests pipelined before it', async () => {
    const t = await serve();
    const alone = await rawExchange(portOf(t), [
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    ]);
    expect(shape(alone.answers[0])).toEqual({ status: 405, body: flipt(12, 'Method Not Allowed') });
    expect(alone.answers[0]?.headers.allow).toMatch(/GET/);
    const pipelined = await rawExchange(portOf(t), [
      'GET /health HTTP/1.1\r\nHost: g\r\n\r\nGET /auth/v1/self HTTP/1.1\r\nHost: g\r\n\r\n' +
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    ]);
    expect(pipelined.answers.map((a) => a.status)).toEqual([200, 401, 405]);
  });

  it('answers odd methods and request targets in Flipt’s shape', async () => {
    const t = await serve();
    const ask = async (line: string) =>
      shape((await rawExchange(portOf(t), [`${line}\r\nHost: g\r\nConnection: close\r\n\r\n`])).answers[0]);
    // RFC 9112 §3.2.2: absolute-form is accepted, and routed by its path, when it names the host Host names.
    expect(await ask('GET http://g/health HTTP/1.1')).toMatchObject({ status: 200 });
    expect(await ask('GET http://elsewhere.example/health HTTP/1.1')).toEqual({
      status: 400,
      body: flipt(3, 'the request target names another host than Host'),
    });
    expect(await ask('OPTIONS * HTTP/1.1')).toEqual({ status: 404, body: flipt(5) });
    expect(await ask('PROPFIND /auth/v1/self HTTP/1.1')).toEqual({ status: 404, body: flipt(5) });
    expect(await ask('FOO /auth/v1/self HTTP/1.1')).toEqual({ status: 400, body: flipt(3) });
  });

  it('answers a missing Host with 400 and an unknown expectation with 417', async () => {
    const t = await serve();
    const noHost = await rawExchange(portOf(t), ['GET /health HTTP/1.1\r\n\r\n']);
    expect(shape(noHost.answers[0])).toEqual({ status: 400, body: flipt(3, 'missing required Host header') });
    expect(noHost.closedByServer).toBe(true);
    const expectation = await rawExchange(portOf(t), [
      'GET /health HTTP/1.1\r\nHost: g\r\nExpect: teapot\r\n\r\n',
    ]);
    expect(shape(expectation.answers[0])).toEqual({ status: 417, body: flipt(9) });
  });

  it('answers a request that arrives while the server closes with 503', async () => {
    const slow = createServer((_request, response) => setTimeout(() => response.end('{}'), 400));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => slow.close(() => resolve())));
    const t = await serveForTest({
      gateway: { upstream: `http://127.0.0.1:${(slow.address() as AddressInfo).port}` },
      authentication: { required: false },
    });
    const exchange = rawExchange(portOf(t), [
      'GET /slow HTTP/1.1\r\nHost: g\r\n\r\n',
      { wait: 100 },
      'GET /next HTTP/1.1\r\nHost: g\r\n\r\n',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = t.server.close();
    const { answers } = await exchange;
    await closing;
    expect(answers.map((a) => a.status)).toEqual([200, 503]);
    expect(shape(answers[1]).body).toEqual(flipt(14, 'the server is shutting down'));
  });
});

describe('answerClientError', () => {
  it('answers a request not received in time with 408, after the answers before it', async () => {
    const server = createServer({
      requestTimeout: 300,
      headersTimeout: 300,
      connectionsCheckingInterval: 50,
    });
    server.on('request', (_request, response) => setTimeout(() => response.end('ok'), 100));
    server.on('clientError', answerClientError);
    trackConnections(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const exchange = await rawExchange(port, ['GET /a HTTP/1.1\r\nHost: g\r\n\r\nGET /b HTTP/1.1\r\nHost'], {
      quietMs: 1500,
    });
    expect(exchange.answers.map((a) => a.status)).toEqual([200, 408]);
    expect(shape(exchange.answers[1]).body).toEqual(flipt(4, 'the request was not received in time'));
  });
});
