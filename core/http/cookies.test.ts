import { describe, expect, it } from 'vitest';
import { createRegistry } from '../plugins/builtins.ts';
import type { MethodPlugin } from '../plugins/contracts.ts';
import { bearer, serveForTest } from '../test-support/server.ts';
import { grpcCallHeaders, readCookie, serializeCookie } from './cookies.ts';

describe('serializeCookie', () => {
  it("writes exactly what Go's http.Cookie.String writes", () => {
    const expires = new Date(Date.UTC(2026, 7, 23, 10, 0, 0));
    expect(
      serializeCookie({
        name: 'flipt_client_token',
        value: 'abc=',
        path: '/',
        domain: 'flipt.example.com',
        expires,
        httpOnly: true,
        secure: true,
        sameSite: 'Strict',
      }),
    ).toBe(
      'flipt_client_token=abc=; Path=/; Domain=flipt.example.com; Expires=Sun, 23 Aug 2026 10:00:00 GMT; HttpOnly; Secure; SameSite=Strict',
    );
    expect(
      serializeCookie({
        name: 'flipt_client_state',
        value: '',
        path: '/',
        domain: '.localhost',
        maxAge: -1,
        httpOnly: true,
        sameSite: 'None',
      }),
    ).toBe('flipt_client_state=; Path=/; Domain=localhost; Max-Age=0; HttpOnly; SameSite=None');
    expect(serializeCookie({ name: 'n', value: 'has space' })).toBe('n="has space"');
  });
});

describe('readCookie', () => {
  /** A `Cookie` header as Node hands it over: its bytes, one character each. */
  const fromWire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

  it("reads a value as Go's net/http does: no percent-decoding, quotes removed, the first of a name wins", () => {
    expect(readCookie('a=1; flipt_client_token=abc%3D; b=2', 'flipt_client_token')).toBe('abc%3D');
    expect(readCookie('flipt_client_token="abc="', 'flipt_client_token')).toBe('abc=');
    expect(readCookie('flipt_client_token=one; flipt_client_token=two', 'flipt_client_token')).toBe('one');
    expect(readCookie('flipt_client_token=a"b', 'flipt_client_token')).toBeUndefined();
    expect(readCookie('flipt_client_token=a\\b', 'flipt_client_token')).toBeUndefined();
  });

  it('keeps bytes above 0x7F, so that a non-ASCII credential arrives as the bytes the client sent', () => {
    for (const credential of ['pässwörd-ü', '秘密の鍵', '🔑🚪']) {
      const header = fromWire(`theme=dark; flipt_client_token=${credential}; lang=de`);
      expect(readCookie(header, 'flipt_client_token'), credential).toBe(fromWire(credential));
      expect(readCookie(fromWire(`flipt_client_token="${credential}"`), 'flipt_client_token')).toBe(
        fromWire(credential),
      );
    }
  });

  it('trims only spaces and tabs around a pair: 0xA0, the last UTF-8 byte of "à", is part of the value', () => {
    expect(readCookie(fromWire(' flipt_client_token=voilà ;x=1'), 'flipt_client_token')).toBe(
      fromWire('voilà'),
    );
    expect(readCookie(fromWire('\tflipt_client_token=voilà'), 'flipt_client_token')).toBe(fromWire('voilà'));
  });
});

/** A method whose routes set the session cookies through ctx.session, as OIDC and GitHub do. */
const cookieJar: MethodPlugin<{ enabled: boolean }> = {
  kind: 'method',
  apiVersion: '^1.0.0',
  name: 'jar',
  method: 'METHOD_JAR',
  sessionCompatible: true,
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  redirectAddresses: () => ['https://flipt.example.com'],
  create: (ctx) => ({
    routes(app) {
      app.get('/login', { config: { authenticate: false } }, async (_request, reply) => {
        ctx.session.setStateCookie(reply, 'state-value', '/auth/v1/method/jar/callback');
        return {};
      });
      app.get('/callback', { config: { authenticate: false } }, async (request, reply) => {
        const state = ctx.session.readStateCookie(request);
        ctx.session.setTokenCookie(reply, 'token-value', new Date(Date.UTC(2026, 7, 23, 10, 0, 0)));
        return { state };
      });
      app.get('/who', { config: { authenticate: false } }, async (request) => ({
        grpcCall: ctx.session.isGrpcCall(request),
        headers: Object.keys(request.headers),
      }));
    },
  }),
};

async function serveJar(session: Record<string, unknown>) {
  const registry = createRegistry();
  registry.register({
    kind: 'method',
    name: 'jar',
    configSchema: cookieJar.configSchema,
    origin: 'test',
    load: async () => cookieJar,
  });
  return serveForTest(
    {
      authentication: {
        required: true,
        session,
        methods: {
          jar: { enabled: true },
          token: { enabled: true, storage: { tokens: { t: { credential: 'static-secret' } } } },
        },
      },
    },
    { registry },
  );
}

describe('session cookies over HTTP', () => {
  it("are set with Flipt's attributes: token Strict with Domain, state Lax on the callback path", async () => {
    const t = await serveJar({
      domain: 'http://flipt.example.com:8443',
      secure: true,
      state_lifetime: '10m',
    });
    const before = Date.now();
    const login = await t.fetch('/auth/v1/method/jar/login');
    const [state] = login.headers.getSetCookie();
    const match =
      /^flipt_client_state=state-value; Path=\/auth\/v1\/method\/jar\/callback; Domain=flipt\.example\.com; Expires=([^;]+); HttpOnly; Secure; SameSite=Lax$/.exec(
        state ?? '',
      );
    expect(match, state).not.toBeNull();
    const expires = Date.parse(match?.[1] ?? '');
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 601_000);

    const callback = await t.fetch('/auth/v1/method/jar/callback', {
      headers: { cookie: 'flipt_client_state=state-value' },
    });
    expect(await callback.json()).toEqual({ state: 'state-value' });
    expect(callback.headers.getSetCookie()).toEqual([
      'flipt_client_token=token-value; Path=/; Domain=flipt.example.com; Expires=Sun, 23 Aug 2026 10:00:00 GMT; HttpOnly; Secure; SameSite=Strict',
    ]);
  });

  it('leave out Secure when session.secure is false, and Domain on the state cookie for localhost', async () => {
    const t = await serveJar({ domain: 'localhost', secure: false });
    const [state] = (await t.fetch('/auth/v1/method/jar/login')).headers.getSetCookie();
    expect(state).toMatch(
      /^flipt_client_state=state-value; Path=\/auth\/v1\/method\/jar\/callback; Expires=[^;]+; HttpOnly; SameSite=Lax$/,
    );
    const [token] = (await t.fetch('/auth/v1/method/jar/callback')).headers.getSetCookie();
    expect(token).toBe(
      'flipt_client_token=token-value; Path=/; Domain=localhost; Expires=Sun, 23 Aug 2026 10:00:00 GMT; HttpOnly; SameSite=Strict',
    );
  });

  it('are cleared before self/expire and self/revoke, and on a 401 that carried a token cookie', async () => {
    const t = await serveJar({ domain: 'flipt.example.com', secure: true });
    const cleared = [
      'flipt_client_token=; Path=/; Domain=flipt.example.com; Max-Age=0; HttpOnly; Secure; SameSite=Strict',
      'flipt_client_state=; Path=/; Domain=flipt.example.com; Max-Age=0; HttpOnly; Secure; SameSite=Strict',
    ];
    const revoke = await t.fetch('/auth/v1/self/revoke', {
      method: 'DELETE',
      headers: bearer('static-secret'),
    });
    expect(revoke.status).toBe(200);
    expect(revoke.headers.getSetCookie()).toEqual(cleared);
    const expire = await t.fetch('/auth/v1/self/expire', { method: 'PUT', headers: bearer('static-secret') });
    expect(expire.status).toBe(404);
    expect(expire.headers.getSetCookie()).toEqual(cleared);

    const stale = await t.fetch('/auth/v1/self', { headers: { cookie: 'flipt_client_token=stale' } });
    expect(stale.status).toBe(401);
    expect(stale.headers.getSetCookie()).toEqual(cleared);
    const noCookie = await t.fetch('/auth/v1/self');
    expect(noCookie.status).toBe(401);
    expect(noCookie.headers.getSetCookie()).toEqual([]);
    const self = await t.fetch('/auth/v1/self', { headers: bearer('static-secret') });
    expect(self.headers.getSetCookie()).toEqual([]);
  });
});

describe('the mark of an in-process gRPC call', () => {
  it('is honoured only on a request made in process, and no route sees it', async () => {
    const t = await serveJar({ domain: 'localhost' });
    const [name = '', secret = ''] = Object.entries(grpcCallHeaders())[0] ?? [];
    const who = async (response: { json(): unknown }) =>
      (await response.json()) as { grpcCall: boolean; headers: string[] };

    const injected = await t.server.app.inject({
      url: '/auth/v1/method/jar/who',
      headers: { [name]: secret },
    });
    expect(await who(injected)).toMatchObject({
      grpcCall: true,
      headers: expect.not.arrayContaining([name]),
    });
    const forged = await t.server.app.inject({
      url: '/auth/v1/method/jar/who',
      headers: { [name]: `${secret}x` },
    });
    expect(await who(forged)).toMatchObject({ grpcCall: false, headers: expect.not.arrayContaining([name]) });
    expect(await who(await t.server.app.inject({ url: '/auth/v1/method/jar/who' }))).toMatchObject({
      grpcCall: false,
    });
    // Over the network, even the secret itself does not make a gRPC call.
    const network = await t.fetch('/auth/v1/method/jar/who', { headers: { [name]: secret } });
    expect(await who(network)).toMatchObject({
      grpcCall: false,
      headers: expect.not.arrayContaining([name]),
    });
  });
});
