import { createServer } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import WebSocket from 'ws';
import { jwtIdentity } from '../auth/jwt-claims.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { startTokenIssuer } from '../test-support/token-issuer.ts';
import { startUpstream, type TestUpstream } from '../test-support/upstream.ts';
import { headerValue, identityOf } from './identity.ts';

async function gateway(
  upstream: TestUpstream | string,
  options: { gateway?: Record<string, unknown>; authentication?: Record<string, unknown> } = {},
): Promise<TestServer> {
  return serveForTest({
    gateway: {
      upstream: typeof upstream === 'string' ? upstream : upstream.url,
      timeout: '500ms',
      ...options.gateway,
    },
    authentication: {
      required: true,
      methods: {
        token: {
          enabled: true,
          storage: { tokens: { ci: { credential: 'ci-secret', metadata: { role: 'admin' } } } },
        },
      },
      ...options.authentication,
    },
  });
}

describe('gateway: reverse proxy', () => {
  it('passes authenticated requests on with the identity headers, never forged ones or the credential', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    const response = await t.fetch('/api/things?x=1', {
      method: 'POST',
      headers: {
        ...bearer('ci-secret'),
        'x-auth-request-user': 'admin',
        'X-Auth-Request-Email': 'boss@example.com',
        cookie:
          'theme=dark; flipt_client_token=stolen; flipt_client_state=s; portcullis_return_to=%2Fx; portcullis_flash=f',
        'content-type': 'application/json',
      },
      body: '{"hello":"world"}',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-upstream')).toBe('yes');
    expect(await response.json()).toEqual({ ok: true, url: '/api/things?x=1', bytes: 17 });
    const [received] = upstream.received;
    expect(received?.headers).toMatchObject({
      'x-auth-request-id': 'ci',
      'x-auth-request-method': 'METHOD_TOKEN',
      'x-auth-request-user': 'ci',
      'content-type': 'application/json',
      cookie: 'theme=dark',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
    });
    expect(received?.headers['x-auth-request-email']).toBeUndefined();
    expect(received?.headers.authorization).toBeUndefined();
  });

  it('never lets an unauthenticated request reach the upstream, forged headers or not', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    const attempts: Array<Record<string, string>> = [
      {},
      { 'x-auth-request-user': 'admin' },
      bearer('wrong'),
      { authorization: 'Basic eDp5' },
    ];
    for (const headers of attempts) {
      const response = await t.fetch('/api/things', { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        code: 16,
        message: 'request was not authenticated',
        details: [],
      });
    }
    expect(upstream.received).toEqual([]);
  });

  it('lets excluded sections through without a token: Flipt’s and gateway.sections', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, {
      authentication: { exclude: { evaluation: true } },
      gateway: {
        sections: {
          public: { prefixes: ['/public', '/assets'], exclude: true },
          admin: { prefixes: ['/admin'] },
        },
      },
    });
    expect((await t.fetch('/evaluate/v1/boolean', { method: 'POST', body: '{}' })).status).toBe(200);
    expect((await t.fetch('/public/index.html')).status).toBe(200);
    expect((await t.fetch('/assets/app.js')).status).toBe(200);
    expect((await t.fetch('/admin/users')).status).toBe(401);
    expect((await t.fetch('/public/../admin/users')).status).toBe(401);
    expect(upstream.received.map((r) => r.url)).toEqual([
      '/evaluate/v1/boolean',
      '/public/index.html',
      '/assets/app.js',
    ]);
    expect(upstream.received[0]?.headers['x-auth-request-id']).toBeUndefined();
  });

  it('streams a 50 MB upload: nothing holds the body, so the bytes in flight stay a few MB (flat memory)', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, { gateway: { timeout: '30s' } });
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const total = 50;
    let produced = 0;
    let mostInFlight = 0;
    // Each chunk is made only when the chain asks for it; whatever is made and not yet at the upstream is held
    // somewhere between (client, portcullis, sockets). A proxy that buffered the body would hold all 50 MB.
    const body = new Readable({
      read() {
        const arrived = upstream.received[0]?.bytes ?? 0;
        mostInFlight = Math.max(mostInFlight, produced - arrived);
        if (produced === total * chunk.length) {
          this.push(null);
          return;
        }
        produced += chunk.length;
        this.push(Buffer.from(chunk));
      },
    });
    const response = await t.fetch('/upload', {
      method: 'PUT',
      headers: { ...bearer('ci-secret'), 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(body) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(200);
    expect((await response.json()) as { bytes: number }).toMatchObject({ bytes: total * chunk.length });
    expect(mostInFlight).toBeLessThan(16 * 1024 * 1024);
  });

  it('streams a 50 MB answer to a slow reader: the upstream is held back, so the bytes in flight stay a few MB', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, { gateway: { timeout: '30s' } });
    const response = await t.fetch('/download?mb=50', { headers: bearer('ci-secret') });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(50 * 1024 * 1024));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let read = 0;
    let mostInFlight = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.length;
      mostInFlight = Math.max(mostInFlight, (upstream.received[0]?.sent ?? 0) - read);
      // A slow client: a pause now and then, long enough for a proxy that did not hold back to run ahead.
      if (read % (4 * 1024 * 1024) < value.length) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(read).toBe(50 * 1024 * 1024);
    expect(mostInFlight).toBeLessThan(16 * 1024 * 1024);
  });

  it('stops the upstream’s answer when the client goes away in the middle of it', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, { gateway: { timeout: '30s' } });
    const response = await t.fetch('/download?mb=200', { headers: bearer('ci-secret') });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    await vi.waitFor(() => expect(upstream.received[0]?.cutShort).toBe(true), { timeout: 5_000 });
    expect(upstream.received[0]?.sent ?? 0).toBeLessThan(200 * 1024 * 1024);
  });

  it('never sends upstream the request of a client that left while being authenticated', async () => {
    const upstream = await startUpstream();
    const issuer = await startTokenIssuer();
    onTestFinished(() => issuer.close());
    // A JWKS slow to answer: the client gives up while its token is being checked.
    const slowJwks = createServer((_request, response) => {
      setTimeout(async () => {
        const keys = await (await fetch(issuer.jwksUrl)).text();
        response.writeHead(200, { 'content-type': 'application/json' }).end(keys);
      }, 600);
    });
    await new Promise<void>((resolve) => slowJwks.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => slowJwks.close(() => resolve())));
    const t = await gateway(upstream, {
      gateway: { timeout: '5s' },
      authentication: {
        methods: {
          jwt: {
            enabled: true,
            jwks_url: `http://127.0.0.1:${(slowJwks.address() as AddressInfo).port}/jwks`,
            validate_claims: { issuer: issuer.issuer },
          },
        },
      },
    });
    const token = await issuer.sign({ sub: 'svc' });
    const { port, hostname } = new URL(t.url('/'));
    const leaver = connect(Number(port), hostname, () =>
      leaver.write(`GET /left-early HTTP/1.1\r\nHost: g\r\nAuthorization: JWT ${token}\r\n\r\n`),
    );
    leaver.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    leaver.destroy();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const stayed = await t.fetch('/stayed', { headers: { authorization: `JWT ${token}` } });
    expect(stayed.status).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(['/stayed']);
  });

  it('passes on only the final answer: no 1xx, no header the upstream’s Connection names', async () => {
    const hinting = createServer((_request, response) => {
      response.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' });
      response.writeHead(200, { connection: 'x-hop', 'x-hop': 'for the next hop only', 'x-kept': 'yes' });
      response.end('final');
    });
    await new Promise<void>((resolve) => hinting.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => hinting.close(() => resolve())));
    const t = await gateway(`http://127.0.0.1:${(hinting.address() as AddressInfo).port}`);
    const answer = await raw(t, [
      'GET /page HTTP/1.1',
      'Host: g',
      'Authorization: Bearer ci-secret',
      'Connection: close',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nx-kept: yes\r\n/);
    expect(answer).not.toMatch(/x-hop|103/i);
    expect(answer).toMatch(/\r\n\r\n(5\r\n)?final/);
  });

  it('answers 502 when the upstream answers what cannot be passed on, and goes on serving', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\nX-Bad: a\x7fb\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 banana\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort',
    ];
    let next = 0;
    const raw = createTcpServer((socket) => {
      const answer = answers[next++] ?? '';
      socket.once('data', () => socket.end(answer));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => raw.close(() => resolve())));
    const t = await gateway(`http://127.0.0.1:${(raw.address() as AddressInfo).port}`);
    const statuses: number[] = [];
    for (let i = 0; i < answers.length; i++) {
      const response = await t.fetch(`/odd/${i}`, { headers: bearer('ci-secret') }).catch(() => undefined);
      statuses.push(response === undefined ? 0 : response.status);
      await response?.arrayBuffer().catch(() => undefined);
    }
    // A short body can only be cut off (the status was already sent); everything else is a 502.
    expect(statuses.slice(0, 3)).toEqual([502, 502, 502]);
    expect([0, 200]).toContain(statuses[3]);
    expect((await t.fetch('/auth/v1/self', { headers: bearer('ci-secret') })).status).toBe(200);
  });

  it('answers 502 when the upstream is down and 504 when it is slower than gateway.timeout', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    const slow = await t.fetch('/slow?delay=2000', { headers: bearer('ci-secret') });
    expect(slow.status).toBe(504);
    expect(await slow.json()).toEqual({
      code: 4,
      message: 'upstream did not answer within 0.5s',
      details: [],
    });
    await upstream.close();
    const down = await t.fetch('/anything', { headers: bearer('ci-secret') });
    expect(down.status).toBe(502);
    expect(await down.json()).toEqual({ code: 14, message: 'upstream unavailable', details: [] });
  });

  it('believes X-Forwarded-* only from trusted_proxies', async () => {
    const upstream = await startUpstream();
    const spoofed = {
      ...bearer('ci-secret'),
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
    };
    const untrusting = await gateway(upstream);
    await untrusting.fetch('/a', { headers: spoofed });
    const trusting = await gateway(upstream, { gateway: { trusted_proxies: ['127.0.0.0/8'] } });
    await trusting.fetch('/b', { headers: spoofed });
    expect(
      upstream.received.map((r) => [
        r.headers['x-forwarded-for'],
        r.headers['x-forwarded-proto'],
        r.headers['x-forwarded-host'],
      ]),
    ).toEqual([
      ['127.0.0.1', 'http', new URL(untrusting.url('/')).host],
      ['203.0.113.9, 127.0.0.1', 'https', new URL(trusting.url('/')).host],
    ]);
  });

  it('sends a browser to gateway.login_url instead of a 401, when configured', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, { gateway: { login_url: 'https://login.example.com/start' } });
    const page = await t.fetch('/dashboard', {
      headers: { accept: 'text/html,application/xhtml+xml' },
      redirect: 'manual',
    });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('https://login.example.com/start');
    expect((await t.fetch('/dashboard', { headers: { accept: 'application/json' } })).status).toBe(401);
  });

  it('upgrades websockets only after authentication, with the identity headers', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    const url = t.url('/socket').replace('http', 'ws');
    const socket = new WebSocket(url, {
      headers: { ...bearer('ci-secret'), 'x-auth-request-user': 'admin' },
    });
    const reply = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => socket.send('hello'));
      socket.once('message', (data) => resolve(String(data)));
      socket.once('error', reject);
    });
    socket.close();
    expect(reply).toBe('ci: hello');
    const refused = new WebSocket(url);
    const status = await new Promise<number>((resolve) => {
      refused.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      refused.once('error', () => resolve(-1));
    });
    expect(status).toBe(401);
    expect(upstream.received.filter((r) => r.method === 'WEBSOCKET')).toHaveLength(1);
  });
});

describe('gateway: what must not get through', () => {
  it('strips forged identity headers whatever their spelling, and untrusted forwarding headers of every kind', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    await raw(t, [
      'GET /x HTTP/1.1',
      'Host: gateway',
      'Authorization: Bearer ci-secret',
      'X_Auth_Request_User: admin',
      'x-auth-request-email: boss@example.com',
      'X-Forwarded-Port: 443',
      'X-Forwarded-Ssl: on',
      'X-Original-Forwarded-For: 203.0.113.1',
      'Forwarded: for=203.0.113.1',
      'Connection: close',
    ]);
    const headers = upstream.received[0]?.headers ?? {};
    expect(
      Object.keys(headers)
        .filter((name) => /auth|forward|original/i.test(name))
        .sort(),
    ).toEqual([
      'x-auth-request-id',
      'x-auth-request-method',
      'x-auth-request-user',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
    ]);
    expect(headers['x-auth-request-user']).toBe('ci');
  });

  it('never sends the credential upstream, even on excluded sections, unless pass_authorization', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, { authentication: { exclude: { evaluation: true } } });
    await t.fetch('/evaluate/v1/boolean', { method: 'POST', headers: bearer('ci-secret'), body: '{}' });
    expect(upstream.received[0]?.headers.authorization).toBeUndefined();
    const passing = await gateway(upstream, { gateway: { pass_authorization: true } });
    await passing.fetch('/y', { headers: bearer('ci-secret') });
    expect(upstream.received[1]?.headers.authorization).toBe('Bearer ci-secret');
  });

  it('keeps /auth/v1 and /metrics to itself', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    for (const path of ['/auth/v1', '/auth/v1/', '/auth/v1/nope', '/auth/v1/method/nope/x']) {
      const response = await t.fetch(path, { headers: bearer('ci-secret') });
      expect(response.status, path).toBe(404);
      expect(await response.json()).toEqual({ code: 5, message: 'Not Found', details: [] });
    }
    // `portcullis serve` answers its metrics there; other methods are not the upstream's either.
    expect((await t.fetch('/metrics')).status).toBe(200);
    expect((await t.fetch('/metrics', { method: 'POST', headers: bearer('ci-secret') })).status).toBe(405);
    expect(upstream.received).toEqual([]);
  });

  it('forwards odd but valid requests as sent, and refuses unforwardable ones with 400, never 500', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, {
      authentication: {
        methods: { token: { enabled: true, storage: { tokens: { 李: { credential: 'ci-secret' } } } } },
      },
    });
    const query = await t.fetch('/search?x=%zz&next=../b', { headers: bearer('ci-secret') });
    expect(await query.json()).toMatchObject({ url: '/search?x=%zz&next=../b' });
    expect(upstream.received[0]?.headers['x-auth-request-user']).toBe('%E6%9D%8E');
    const keepAlive = await raw(t, [
      'GET /k HTTP/1.1',
      'Host: g',
      'Authorization: Bearer ci-secret',
      'Keep-Alive: timeout=5',
      'Connection: close',
    ]);
    expect(keepAlive).toMatch(/^HTTP\/1\.1 200/);
    const expect100 = await raw(
      t,
      [
        'PUT /e HTTP/1.1',
        'Host: g',
        'Authorization: Bearer ci-secret',
        'Expect: 100-continue',
        'Content-Length: 5',
        'Connection: close',
      ],
      'hello',
    );
    expect(expect100).toMatch(/HTTP\/1\.1 200/);
    expect(upstream.received.at(-1)).toMatchObject({ url: '/e', bytes: 5 });
    const absolute = await raw(t, [
      'GET http://evil.example/x HTTP/1.1',
      'Host: g',
      'Authorization: Bearer ci-secret',
      'Connection: close',
    ]);
    expect(absolute).toMatch(/^HTTP\/1\.1 400/);
    const undecodable = await raw(t, [
      'GET /bad%zz HTTP/1.1',
      'Host: g',
      'Authorization: Bearer ci-secret',
      'Connection: close',
    ]);
    expect(undecodable).toMatch(/^HTTP\/1\.1 400/);
  });

  it('joins websocket connections only after a 101: anything else the upstream says ends the connection', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream, {
      gateway: { sections: { public: { prefixes: ['/public/'], exclude: true } } },
    });
    // An upgrade the upstream refuses (no Sec-WebSocket-Key), then a request smuggled on the same connection.
    const answer = await raw(
      t,
      ['GET /public/x HTTP/1.1', 'Host: g', 'Upgrade: websocket', 'Connection: Upgrade'],
      'GET /admin/secret HTTP/1.1\r\nHost: g\r\nX-Auth-Request-User: admin\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(upstream.received.map((r) => r.url)).not.toContain('/admin/secret');
    const h2c = await raw(t, [
      'GET /public/x HTTP/1.1',
      'Host: g',
      'Upgrade: h2c',
      'Connection: Upgrade, HTTP2-Settings',
    ]);
    expect(h2c).toMatch(/^HTTP\/1\.1 400/);
    // The upstream's refusal comes back without its hop's framing, and the connection is closed at once.
    const relayed = await exchange(t, [
      'GET /public/x HTTP/1.1',
      'Host: g',
      'Upgrade: websocket',
      'Connection: Upgrade',
    ]);
    expect(relayed.closedByServer).toBe(true);
    expect(relayed.answer).not.toMatch(/transfer-encoding/i);
    expect(relayed.answer).toMatch(/\r\nconnection: close\r\n/i);
    const refused = await exchange(t, [
      'GET /private HTTP/1.1',
      'Host: g',
      'Upgrade: websocket',
      'Connection: Upgrade',
    ]);
    expect(refused.answer).toMatch(/^HTTP\/1\.1 401/);
    expect(refused.closedByServer).toBe(true);
    for (const target of ['/public/x#/../../admin', '/auth/v1', '/auth/v1/self']) {
      const answer = await raw(t, [
        `GET ${target} HTTP/1.1`,
        'Host: g',
        'Upgrade: websocket',
        'Connection: Upgrade',
      ]);
      expect(answer, target).toMatch(/^HTTP\/1\.1 (400|404)/);
    }
  });

  it('closes open websockets when the server closes', async () => {
    const upstream = await startUpstream();
    const t = await gateway(upstream);
    const socket = new WebSocket(t.url('/socket').replace('http', 'ws'), { headers: bearer('ci-secret') });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await t.server.close();
    await closed;
  });

  it('gives a websocket upgrade gateway.timeout to be answered', async () => {
    const silent = createServer();
    silent.on('upgrade', () => {}); // accepts the connection, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      silent.closeAllConnections();
      silent.close();
    });
    const t = await gateway(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    const socket = new WebSocket(t.url('/s').replace('http', 'ws'), { headers: bearer('ci-secret') });
    const status = await new Promise<number>((resolve) => {
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('error', () => resolve(-1));
    });
    expect(status).toBe(504);
  });
});

/** Sends raw HTTP/1.1 (what fetch will not send) and returns everything the server answers. */
async function raw(t: TestServer, lines: readonly string[], body = ''): Promise<string> {
  return (await exchange(t, lines, body)).answer;
}

/** The same, saying also whether the server closed the connection (rather than our two-second limit). */
async function exchange(
  t: TestServer,
  lines: readonly string[],
  body = '',
): Promise<{ answer: string; closedByServer: boolean }> {
  const { port, hostname } = new URL(t.url('/'));
  const socket = connect(Number(port), hostname);
  let answer = '';
  let timedOut = false;
  socket.on('data', (chunk) => {
    answer += chunk;
  });
  socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  await new Promise((resolve) => {
    socket.once('close', resolve);
    setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, 2_000);
  });
  return { answer, closedByServer: !timedOut };
}

describe('gateway: forward-auth at /auth/v1/forward', () => {
  it('answers 200 with the identity headers, 401 with WWW-Authenticate, 200 for excluded URIs', async () => {
    const t = await serveForTest({
      authentication: {
        required: true,
        exclude: { ofrep: true },
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
      },
    });
    const ask = (headers: Record<string, string>, method = 'GET') =>
      t.fetch('/auth/v1/forward', { method, headers });
    const allowed = await ask({
      ...bearer('ci-secret'),
      'x-forwarded-uri': '/api/v1/flags',
      'x-forwarded-method': 'POST',
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('x-auth-request-user')).toBe('ci');
    expect(allowed.headers.get('x-auth-request-method')).toBe('METHOD_TOKEN');
    const refused = await ask({ 'x-original-uri': '/api/v1/flags' }, 'HEAD');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('request was not authenticated');
    expect((await ask({ 'x-forwarded-uri': '/ofrep/v1/evaluate/flags' })).status).toBe(200);
    expect((await ask({ 'x-forwarded-uri': '/ofrep/../api/v1/flags' })).status).toBe(401);
    // A client's X-Forwarded-Uri reaching an nginx subrequest beside the X-Original-URI nginx set: not believed.
    const spoofed = await ask({
      'x-original-uri': '/api/v1/flags',
      'x-forwarded-uri': '/ofrep/v1/evaluate/flags',
    });
    expect(spoofed.status).toBe(401);
  });

  it('judges cross-origin requests by the original method, and redirects browsers only when asked to', async () => {
    const t = await serveForTest({
      gateway: { login_url: '/login' },
      authentication: {
        required: true,
        session: { csrf: { key: 'on' } },
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
      },
    });
    const crossSite = { ...bearer('ci-secret'), 'sec-fetch-site': 'cross-site', 'x-forwarded-uri': '/x' };
    expect(
      (await t.fetch('/auth/v1/forward', { headers: { ...crossSite, 'x-forwarded-method': 'POST' } })).status,
    ).toBe(403);
    expect(
      (await t.fetch('/auth/v1/forward', { headers: { ...crossSite, 'x-forwarded-method': 'GET' } })).status,
    ).toBe(200);
    const page = { accept: 'text/html', 'x-forwarded-uri': '/x' };
    expect((await t.fetch('/auth/v1/forward', { headers: page, redirect: 'manual' })).status).toBe(401);
    const redirected = await t.fetch('/auth/v1/forward?redirect=true', { headers: page, redirect: 'manual' });
    expect(redirected.status).toBe(302);
    expect(redirected.headers.get('location')).toBe('/login');
  });
});

describe('identity headers', () => {
  it('read each method’s own keys, so a JWT claim cannot pose as another method’s identity', () => {
    const jwt = identityOf(
      {
        id: '',
        method: 'METHOD_JWT',
        metadata: {
          'io.flipt.auth.github.preferred_username': 'octocat',
          'io.flipt.auth.email': 'ceo@example.com',
          'io.flipt.auth.claims': '{"sub":"svc-1"}',
          'io.flipt.auth.jwt.email': 'svc@example.com',
        },
      },
      (authentication) => jwtIdentity(authentication.metadata),
    );
    expect(jwt).toMatchObject({ user: 'svc-1', email: 'svc@example.com' });
    expect(identityOf({ id: 'ci', method: 'METHOD_TOKEN', metadata: {} })).toMatchObject({
      user: 'ci',
      email: '',
    });
  });

  it('are percent-encoded outside printable ASCII (and %), so no value can break a header', () => {
    expect(headerValue('plain ascii')).toBe('plain ascii');
    expect(headerValue('李')).toBe('%E6%9D%8E');
    expect(headerValue('100%')).toBe('100%25');
    expect(headerValue('a\r\nX-Evil: 1')).toBe('a%0D%0AX-Evil: 1');
    expect(headerValue('\ud800')).toBe('%EF%BF%BD');
  });
});
