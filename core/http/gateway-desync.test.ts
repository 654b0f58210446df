import { describe, expect, it } from 'vitest';
import { type RawStep, rawExchange } from '../test-support/raw-http.ts';
import { serveForTest } from '../test-support/server.ts';
import { startUpstream } from '../test-support/upstream.ts';

/** A raw HTTP/1.1 request: request line, headers, blank line, body. */
const message = (line: string, headers: readonly string[], body = '') =>
  `${line}\r\n${headers.map((header) => `${header}\r\n`).join('')}\r\n${body}`;

/** What a client sends, and the statuses it must get back, in order (none for a client that hung up). */
interface Case {
  readonly name: string;
  readonly steps: (path: string) => readonly RawStep[];
  readonly statuses: readonly number[];
  /**
   * The requests (their targets) the upstream must see aborted: a body streamed upstream as it arrives, found
   * malformed after forwarding began, leaves the upstream with the headers and a body cut off, never a whole request.
   */
  readonly aborted?: readonly string[];
}

/** A body as JSON, or as the text it is when it is not JSON (a bare error page). */
function parsed(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

const get = (path: string, ...headers: string[]) => message(`GET ${path} HTTP/1.1`, ['Host: g', ...headers]);

/**
 * The fuzzing campaign's corpus (issue 14) and its neighbours: malformed framing, malformed headers, odd methods and
 * targets, pipelining and clients that go away. `path` is the case's own excluded section path, so that what the
 * upstream gets can be told apart by case.
 */
const corpus: readonly Case[] = [
  { name: 'xchunked', steps: (p) => [get(p, 'Transfer-Encoding: xchunked')], statuses: [400] },
  {
    name: 'chunked-identity',
    steps: (p) => [get(p, 'Transfer-Encoding: chunked, identity')],
    statuses: [400],
  },
  {
    name: 'transfer-encoding-twice',
    steps: (p) => [
      message(
        `POST ${p} HTTP/1.1`,
        ['Host: g', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
        '0\r\n\r\n',
      ),
    ],
    statuses: [400],
  },
  {
    name: 'transfer-encoding-and-length',
    steps: (p) => [
      message(
        `POST ${p} HTTP/1.1`,
        ['Host: g', 'Transfer-Encoding: chunked', 'Content-Length: 5'],
        '0\r\n\r\n',
      ),
    ],
    statuses: [400],
  },
  {
    name: 'bad-chunk-size',
    steps: (p) => [
      message(`POST ${p} HTTP/1.1`, ['Host: g', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n'),
      { wait: 100 },
      'zz\r\nworld\r\n0\r\n\r\n',
    ],
    statuses: [400],
    aborted: [''],
  },
  {
    name: 'late-bad-chunk',
    steps: (p) => [
      message(`POST ${p} HTTP/1.1`, ['Host: g', 'Transfer-Encoding: chunked'], '3\r\nabc\r\n'),
      { wait: 200 },
      'ZZ\r\n',
    ],
    statuses: [400],
    aborted: [''],
  },
  // A GET's body is not forwarded, so it is answered at once; a parse error in its body then has no answer of its
  // own (one request, one answer): the connection closes.
  {
    name: 'late-bad-chunk-after-answer',
    steps: (p) => [get(p, 'Transfer-Encoding: chunked'), '3\r\nabc\r\n', { wait: 200 }, 'ZZ\r\n'],
    statuses: [200],
  },
  {
    name: 'content-length-not-a-number',
    steps: (p) => [message(`POST ${p} HTTP/1.1`, ['Host: g', 'Content-Length: 5x'], 'hello')],
    statuses: [400],
  },
  {
    name: 'content-length-twice',
    steps: (p) => [
      message(`POST ${p} HTTP/1.1`, ['Host: g', 'Content-Length: 5', 'Content-Length: 6'], 'hello!'),
    ],
    statuses: [400],
  },
  { name: 'obs-fold', steps: (p) => [get(p, 'X-A: a', ' folded')], statuses: [400] },
  { name: 'nul-in-value', steps: (p) => [get(p, 'X-A: a\0b')], statuses: [400] },
  { name: 'cr-in-value', steps: (p) => [get(p, 'X-A: a\rb')], statuses: [400] },
  { name: 'space-before-colon', steps: (p) => [get(p, 'X-A : b')], statuses: [400] },
  { name: 'header-too-long', steps: (p) => [get(p, `X-A: ${'a'.repeat(100 * 1024)}`)], statuses: [431] },
  { name: 'line-feeds-only', steps: (p) => [`GET ${p} HTTP/1.1\nHost: g\n\n`], statuses: [400] },
  { name: 'invalid-method', steps: (p) => [message(`G@T ${p} HTTP/1.1`, ['Host: g'])], statuses: [400] },
  { name: 'unknown-method', steps: (p) => [message(`FOO ${p} HTTP/1.1`, ['Host: g'])], statuses: [400] },
  { name: 'connect', steps: () => [message('CONNECT g:443 HTTP/1.1', ['Host: g:443'])], statuses: [405] },
  // HTTP/2's whole preface opens HTTP/2 (for gRPC; its answer is a SETTINGS frame, no HTTP/1 answer); anything
  // short of it is HTTP/1.1's, and malformed.
  { name: 'http2-preface', steps: () => ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], statuses: [] },
  { name: 'http2-preface-broken', steps: () => ['PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'], statuses: [400] },
  { name: 'http2-preface-cut', steps: () => ['PRI * HTTP/2.0\r\n', { close: 'end' }], statuses: [400] },
  { name: 'missing-host', steps: (p) => [message(`GET ${p} HTTP/1.1`, [])], statuses: [400] },
  { name: 'unknown-expectation', steps: (p) => [get(p, 'Expect: teapot')], statuses: [417] },
  // Never excluded (the exclusions read a path), so refused first without a credential; with one, a 400.
  // RFC 9112 §3.2: more than one Host, or an absolute-form target naming another host than Host, is a 400.
  { name: 'host-twice-differing', steps: (p) => [get(p, 'Host: h')], statuses: [400] },
  { name: 'host-twice-same', steps: (p) => [get(p, 'Host: g')], statuses: [400] },
  { name: 'absolute-form', steps: (p) => [get(`http://elsewhere.example${p}`)], statuses: [400] },
  { name: 'absolute-form-same-host', steps: (p) => [get(`http://G:80${p}`)], statuses: [401] },
  // RFC 9110 §7.8: Upgrade in HTTP/1.0 is ignored, the request served as any other.
  {
    name: 'upgrade-in-http-1.0',
    steps: (p) => [message(`GET ${p} HTTP/1.0`, ['Connection: Upgrade', 'Upgrade: websocket'])],
    statuses: [200],
  },
  // Fastify's message quotes the target: only its start comes back.
  {
    name: 'bad-url-long',
    steps: (p) => [get(`${p}/%zz${'a'.repeat(80 * 1024)}`)],
    statuses: [400],
  },
  { name: 'asterisk-form', steps: () => [message('OPTIONS * HTTP/1.1', ['Host: g'])], statuses: [401] },
  {
    name: 'absolute-form-authenticated',
    steps: (p) => [get(`http://elsewhere.example${p}`, 'Authorization: Bearer ci-secret')],
    statuses: [400],
  },
  {
    name: 'asterisk-form-authenticated',
    steps: () => [message('OPTIONS * HTTP/1.1', ['Host: g', 'Authorization: Bearer ci-secret'])],
    statuses: [400],
  },
  {
    name: 'webdav-method',
    steps: (p) => [message(`PROPFIND ${p} HTTP/1.1`, ['Host: g'])],
    statuses: [404],
  },
  {
    name: 'http-1.0',
    steps: (p) => [message(`GET ${p}/a HTTP/1.0`, [])],
    statuses: [200],
  },
  {
    name: 'pipelined-good-xchunked-good',
    steps: (p) => [`${get(`${p}/1`)}${get(`${p}/2`, 'Transfer-Encoding: xchunked')}${get(`${p}/3`)}`],
    statuses: [200, 400],
  },
  {
    name: 'pipelined-slow-then-xchunked',
    steps: (p) => [`${get(`${p}/1?delay=300`)}${get(`${p}/2`, 'Transfer-Encoding: xchunked')}`],
    statuses: [200, 400],
  },
  {
    name: 'pipelined-slow-then-bad-header',
    steps: (p) => [`${get(`${p}/1?delay=300`)}${get(`${p}/2`, 'X-A: a\0b')}${get(`${p}/3`)}`],
    statuses: [200, 400],
  },
  {
    name: 'pipelined-authenticated-then-bad',
    steps: (p) => [
      `${get(`/private${p}/1`, 'Authorization: Bearer ci-secret')}${get(`/private${p}/2`, 'Authorization: Bearer ci-secret', 'Transfer-Encoding: xchunked')}`,
    ],
    statuses: [200, 400],
  },
  {
    name: 'pipelined-slow-then-connect',
    steps: (p) => [`${get(`${p}/1?delay=300`)}${message('CONNECT g:443 HTTP/1.1', ['Host: g:443'])}`],
    statuses: [200, 405],
  },
  {
    name: 'pipelined-slow-then-bad-chunk',
    steps: (p) => [
      `${get(`${p}/1?delay=300`)}${message(`POST ${p}/2 HTTP/1.1`, ['Host: g', 'Transfer-Encoding: chunked'], '3\r\nabc\r\n')}`,
      { wait: 100 },
      'zz\r\n',
    ],
    statuses: [200, 400],
  },
  {
    name: 'pipelined-after-missing-host',
    steps: (p) => [`${get(`${p}/1?delay=300`)}${message(`GET ${p}/2 HTTP/1.1`, [])}${get(`${p}/3`)}`],
    statuses: [200, 400],
  },
  {
    name: 'pipelined-after-connection-close',
    steps: (p) => [`${get(`${p}/1?delay=100`, 'Connection: close')}${get(`${p}/2`)}`],
    statuses: [200],
  },
  {
    name: 'pipelined-after-http-1.0',
    steps: (p) => [`${message(`GET ${p}/1?delay=100 HTTP/1.0`, [])}${get(`${p}/2`)}`],
    statuses: [200],
  },
  // An HTTP/1.0 answer without a Content-Length (the upstream's is chunked, or it answers a HEAD) closes the
  // connection, which Node decides only when it writes the answer's headers: nothing pipelined after it is acted on.
  {
    name: 'pipelined-after-http-1.0-keep-alive-chunked',
    steps: (p) => [
      `${message(`GET ${p}/1 HTTP/1.0`, ['Connection: keep-alive'])}${message(`DELETE ${p}/2 HTTP/1.1`, ['Host: a'])}${message(`POST ${p}/3 HTTP/1.1`, ['Host: a', 'Content-Length: 2'], 'hi')}`,
    ],
    statuses: [200],
  },
  {
    name: 'pipelined-after-http-1.0-keep-alive-head',
    steps: (p) => [
      `${message(`HEAD ${p}/1 HTTP/1.0`, ['Connection: keep-alive'])}${message(`DELETE ${p}/2 HTTP/1.1`, ['Host: a'])}${message(`POST ${p}/3 HTTP/1.1`, ['Host: a', 'Content-Length: 2'], 'hi')}`,
    ],
    statuses: [200],
  },
  {
    name: 'pipelined-after-http-1.0-keep-alive-sized',
    steps: (p) => [
      `${message(`GET ${p}/1?sized HTTP/1.0`, ['Connection: keep-alive'])}${message(`DELETE ${p}/2?sized HTTP/1.1`, ['Host: a'])}${message(`POST ${p}/3?sized HTTP/1.1`, ['Host: a', 'Content-Length: 2', 'Connection: close'], 'hi')}`,
    ],
    statuses: [200, 200, 200],
  },
  {
    name: 'partial-body-then-end',
    steps: (p) => [
      message(`POST ${p} HTTP/1.1`, ['Host: g', 'Content-Length: 100'], 'only ten b'),
      { close: 'end' },
    ],
    statuses: [400],
    aborted: [''],
  },
  {
    name: 'partial-body-then-close',
    steps: (p) => [
      message(`POST ${p} HTTP/1.1`, ['Host: g', 'Content-Length: 100'], 'only ten b'),
      { wait: 100 },
      { close: 'destroy' },
    ],
    statuses: [],
    aborted: [''],
  },
  {
    name: 'partial-chunked-body-then-close',
    steps: (p) => [
      message(`PUT ${p} HTTP/1.1`, ['Host: g', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n'),
      { wait: 100 },
      { close: 'destroy' },
    ],
    statuses: [],
    aborted: [''],
  },
];

/** The gateway in front of a test upstream, evaluation excluded, with one static token. */
async function serveGateway(name: string, credential: string) {
  const upstream = await startUpstream();
  const t = await serveForTest({
    gateway: { upstream: upstream.url, timeout: '5s' },
    authentication: {
      required: true,
      exclude: { evaluation: true },
      methods: { token: { enabled: true, storage: { tokens: { [name]: { credential } } } } },
    },
  });
  return { upstream, t, port: Number(new URL(t.url('/')).port) };
}

describe('gateway: malformed and pipelined requests', () => {
  it('never lets the upstream receive a request whose client did not get its answer, and every one carries X-Forwarded-For', async () => {
    const { upstream, port } = await serveGateway('ci', 'ci-secret');
    // A warm upstream connection: a request Node emits before its parse error would otherwise wait for a connect.
    const warm = await rawExchange(port, [get('/evaluate/v1/warm', 'Connection: close')]);
    expect(warm.answers.map((answer) => answer.status)).toEqual([200]);

    // Every case is checked (soft assertions), so that a failure names all the cases that fail.
    for (const { name, steps, statuses, aborted = [] } of corpus) {
      const path = `/evaluate/v1/${name}`;
      const exchange = await rawExchange(port, steps(path));
      // The upstream's side of it: anything it has not finished receiving by now is not counted as received.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const received = upstream.received.filter(
        (r) => r.url.startsWith(path) || r.url.startsWith(`/private${path}`),
      );
      expect
        .soft(
          received.map((r) => r.headers['x-forwarded-for']),
          `${name}: every request the upstream gets says who sent it`,
        )
        .toEqual(received.map(() => '127.0.0.1'));
      const relayed = exchange.answers
        .filter((answer) => answer.headers['x-upstream'] === 'yes')
        .map(
          (answer) => answer.headers['x-upstream-url'] ?? (JSON.parse(answer.body) as { url: string }).url,
        );
      expect
        .soft(
          received.filter((r) => r.abortedAt !== undefined).map((r) => r.url),
          `${name}: the upstream saw exactly these requests aborted`,
        )
        .toEqual(aborted.map((suffix) => `${path}${suffix}`));
      expect
        .soft(
          received.filter((r) => r.endedAt === undefined && r.abortedAt === undefined).map((r) => r.url),
          `${name}: no request is left hanging at the upstream`,
        )
        .toEqual([]);
      expect
        .soft(
          received.filter((r) => r.endedAt !== undefined).map((r) => r.url),
          `${name}: the upstream received exactly the requests whose answers the client got, in order`,
        )
        .toEqual(relayed);
      expect
        .soft(
          exchange.answers.map((answer) => answer.status),
          `${name}: ${JSON.stringify(exchange.bytes.slice(0, 300))}`,
        )
        .toEqual(statuses);
      for (const answer of exchange.answers.filter((a) => a.headers['x-upstream'] !== 'yes')) {
        expect.soft(answer.body.length, `${name}: an error quotes little of the request`).toBeLessThan(512);
        expect.soft(parsed(answer.body), `${name}: Flipt's error shape`).toEqual({
          code: expect.any(Number),
          message: expect.any(String),
          details: [],
        });
      }
    }
    // The gateway still serves, on a warm connection.
    const after = await rawExchange(port, [get('/evaluate/v1/after', 'Connection: close')]);
    expect(after.answers.map((answer) => answer.status)).toEqual([200]);
  });
});

describe('gateway: requests pipelined after an HTTP/1.0 answer that closes the connection', () => {
  it('creates nothing through the token API', async () => {
    const { t, port } = await serveGateway('admin', 'admin-secret');
    const body = '{"name":"ghost"}';
    const exchange = await rawExchange(port, [
      `${message('GET /evaluate/v1/1 HTTP/1.0', ['Connection: keep-alive'])}${message(
        'POST /auth/v1/method/token HTTP/1.1',
        [
          'Host: a',
          'Authorization: Bearer admin-secret',
          'Content-Type: application/json',
          `Content-Length: ${body.length}`,
        ],
        body,
      )}`,
    ]);
    expect(exchange.answers.map((answer) => answer.status)).toEqual([200]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const list = await t.fetch('/auth/v1/tokens', { headers: { authorization: 'Bearer admin-secret' } });
    const names = (
      (await list.json()) as { authentications: Array<{ metadata: Record<string, string> }> }
    ).authentications.map((a) => a.metadata['io.flipt.auth.token.name']);
    expect(names).not.toContain('ghost');
  });
});

describe('gateway: a request that asked to switch protocols and was not switched', () => {
  it('closes the connection after its answer, so nothing pipelined behind it waits forever or acts', async () => {
    const { t, upstream, port } = await serveGateway('admin', 'admin-secret');
    const body = '{"name":"behind-upgrade"}';
    const token = message(
      'POST /auth/v1/method/token HTTP/1.1',
      [
        'Host: a',
        'Authorization: Bearer admin-secret',
        'Content-Type: application/json',
        `Content-Length: ${body.length}`,
      ],
      body,
    );
    // HTTP/1.0 (RFC 9110 §7.8: Upgrade ignored), through the gateway to the upstream, then the token API.
    const old = await rawExchange(
      port,
      [
        `${message('GET /evaluate/v1/u10?sized HTTP/1.0', ['Connection: keep-alive, Upgrade', 'Upgrade: websocket'])}${get('/evaluate/v1/u10-next')}${token}`,
      ],
      { quietMs: 2_000 },
    );
    expect(old.answers.map((answer) => answer.status)).toEqual([200]);
    expect(old.closedByServer).toBe(true);
    expect(old.answers[0]?.headers.connection).toBe('close');
    expect(upstream.received.map((r) => r.url).filter((url) => url.startsWith('/evaluate/v1/u10'))).toEqual([
      '/evaluate/v1/u10?sized',
    ]);
    // HTTP/1.1 to a server with no upgrade handler (no gateway): answered, then closed.
    const standalone = await serveForTest({
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } } },
      },
    });
    const api = await rawExchange(
      Number(new URL(standalone.url('/')).port),
      [
        `${get('/auth/v1/self', 'Authorization: Bearer admin-secret', 'Connection: Upgrade', 'Upgrade: websocket')}${token}`,
      ],
      { quietMs: 2_000 },
    );
    expect(api.closedByServer).toBe(true);
    expect(api.answers.length).toBe(1);
    for (const server of [t, standalone]) {
      const list = await server.fetch('/auth/v1/tokens', {
        headers: { authorization: 'Bearer admin-secret' },
      });
      expect(JSON.stringify(await list.json())).not.toContain('behind-upgrade');
    }
  });
});

describe('gateway: deep pipelines', () => {
  /** `count` requests in one write; the statuses and upstream targets of their answers, and the time taken. */
  async function pipeline(port: number, count: number) {
    const requests = Array.from({ length: count }, (_, i) => get(`/evaluate/v1/deep/${i}`)).join('');
    const started = performance.now();
    const exchange = await rawExchange(port, [requests, get('/evaluate/v1/deep/last', 'Connection: close')], {
      quietMs: 20_000,
    });
    return { exchange, ms: performance.now() - started };
  }

  it('answers every request in order, with no listener piling up on earlier answers', async () => {
    const { port } = await serveGateway('ci', 'ci-secret');
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const { exchange } = await pipeline(port, 60);
      expect(
        exchange.answers.map((answer) => answer.headers['x-upstream-url'] ?? JSON.parse(answer.body).url),
      ).toEqual([
        ...Array.from({ length: 60 }, (_, i) => `/evaluate/v1/deep/${i}`),
        '/evaluate/v1/deep/last',
      ]);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('takes time in proportion to its depth (four times the requests, well under eight times the time)', async () => {
    const { port } = await serveGateway('ci', 'ci-secret');
    await pipeline(port, 100); // warm
    const small = await pipeline(port, 250);
    const large = await pipeline(port, 1_000);
    expect(small.exchange.answers).toHaveLength(251);
    expect(large.exchange.answers).toHaveLength(1_001);
    expect(large.ms / small.ms).toBeLessThan(8);
  }, 60_000);
});
