import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '../plugins/builtins.ts';
import type { MethodPlugin } from '../plugins/contracts.ts';
import { registryWith, testMethod } from '../test-support/plugins.ts';
import { bearer, serveForTest } from '../test-support/server.ts';

const UNAUTHENTICATED = { code: 16, message: 'request was not authenticated', details: [] };

const required = (extra: Record<string, unknown> = {}) => ({
  authentication: {
    required: true,
    methods: {
      token: {
        enabled: true,
        bootstrap: { token: 'bootstrap-secret' },
        storage: { tokens: { ci: { credential: 'static-secret', metadata: { role: 'admin' } } } },
      },
    },
    ...extra,
  },
});

async function createToken(t: Awaited<ReturnType<typeof serveForTest>>, body: Record<string, unknown>) {
  const response = await t.fetch('/auth/v1/method/token', {
    method: 'POST',
    headers: { ...bearer('bootstrap-secret'), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GET /auth/v1/method', () => {
  it("lists the five built-in methods in Flipt's order, with metadata from each plugin", async () => {
    const t = await serveForTest(required());
    const response = await t.fetch('/auth/v1/method');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      methods: [
        { method: 'METHOD_TOKEN', enabled: true, sessionCompatible: false },
        {
          method: 'METHOD_GITHUB',
          enabled: false,
          sessionCompatible: true,
          metadata: {
            authorize_url: '/auth/v1/method/github/authorize',
            callback_url: '/auth/v1/method/github/callback',
          },
        },
        { method: 'METHOD_OIDC', enabled: false, sessionCompatible: true, metadata: { providers: {} } },
        { method: 'METHOD_KUBERNETES', enabled: false, sessionCompatible: false },
        { method: 'METHOD_JWT', enabled: false, sessionCompatible: false },
      ],
    });
  });

  it('needs no credential, and ignores X-Forwarded-Prefix unless a session method is enabled', async () => {
    const t = await serveForTest(required());
    const response = await t.fetch('/auth/v1/method', { headers: { 'x-forwarded-prefix': '/flipt' } });
    expect(response.status).toBe(200);
    expect(JSON.stringify(await response.json())).not.toContain('/flipt');
  });
});

describe('/auth/v1/self', () => {
  it('answers who is calling, and 401 with Flipt body and header to anyone else', async () => {
    const t = await serveForTest(required());
    const self = await t.fetch('/auth/v1/self', { headers: bearer('static-secret') });
    const body = (await self.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: 'ci',
      method: 'METHOD_TOKEN',
      createdAt: expect.stringMatching(/Z$/),
      updatedAt: body.createdAt,
      metadata: { role: 'admin' },
    });

    const anonymous = await t.fetch('/auth/v1/self');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('request was not authenticated');
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await anonymous.json()).toEqual(UNAUTHENTICATED);
  });

  it('expires itself: the token stops working, and a static token cannot be expired', async () => {
    const t = await serveForTest(required());
    const { body } = await createToken(t, { name: 'short' });
    const token = body.clientToken as string;
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const moved = await t.fetch(`/auth/v1/self/expire?expiresAt=${later}`, {
      method: 'PUT',
      headers: bearer(token),
    });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toEqual({});
    const self = (await (await t.fetch('/auth/v1/self', { headers: bearer(token) })).json()) as {
      expiresAt: string;
    };
    expect(self.expiresAt).toBe(later.replace('.000Z', 'Z'));

    const now = await t.fetch('/auth/v1/self/expire', { method: 'PUT', headers: bearer(token) });
    expect(now.status).toBe(200);
    expect((await t.fetch('/auth/v1/self', { headers: bearer(token) })).status).toBe(401);

    const fixed = await t.fetch('/auth/v1/self/expire', { method: 'PUT', headers: bearer('static-secret') });
    expect(fixed.status).toBe(404);
    expect(await fixed.json()).toEqual({
      code: 5,
      message: 'getting authentication by id not found',
      details: [],
    });
  });

  it('revokes itself; a static token answers {} and keeps working, as in Flipt', async () => {
    const t = await serveForTest(required());
    const token = (await createToken(t, { name: 'gone' })).body.clientToken as string;
    const revoked = await t.fetch('/auth/v1/self/revoke', { method: 'DELETE', headers: bearer(token) });
    expect(await revoked.json()).toEqual({});
    expect((await t.fetch('/auth/v1/self', { headers: bearer(token) })).status).toBe(401);

    const fixed = await t.fetch('/auth/v1/self/revoke', {
      method: 'DELETE',
      headers: bearer('static-secret'),
    });
    expect(await fixed.json()).toEqual({});
    expect((await t.fetch('/auth/v1/self', { headers: bearer('static-secret') })).status).toBe(200);
  });
});

describe('/auth/v1/tokens', () => {
  it('lists stored authentications in pages, by method, and never the static tokens', async () => {
    const t = await serveForTest(required());
    for (const name of ['a', 'b', 'c']) await createToken(t, { name });
    const list = async (query: string) => {
      const response = await t.fetch(`/auth/v1/tokens${query}`, { headers: bearer('static-secret') });
      return {
        status: response.status,
        body: (await response.json()) as {
          authentications: Array<{ id: string; metadata: Record<string, string> }>;
          nextPageToken: string;
        },
      };
    };
    const all = await list('');
    expect(all.body.authentications.map((a) => a.metadata['io.flipt.auth.token.name'])).toEqual([
      'initial_bootstrap_token',
      'a',
      'b',
      'c',
    ]);
    expect(all.body.nextPageToken).toBe('');

    const first = await list('?limit=3');
    expect(first.body.authentications).toHaveLength(3);
    expect(first.body.nextPageToken).toBe('3');
    const second = await list(`?limit=3&pageToken=${first.body.nextPageToken}`);
    expect(second.body.authentications.map((a) => a.metadata['io.flipt.auth.token.name'])).toEqual(['c']);
    expect(second.body.nextPageToken).toBe('');

    expect((await list('?method=METHOD_TOKEN')).body.authentications).toHaveLength(4);
    expect((await list('?method=1')).body.authentications).toHaveLength(4);
    expect((await list('?method=METHOD_NONE')).body.authentications).toHaveLength(4);
    expect((await list('?method=METHOD_OIDC')).body.authentications).toHaveLength(0);
    expect(await list('?method=METHOD_MAGIC')).toEqual({
      status: 400,
      body: { code: 3, message: 'invalid value "METHOD_MAGIC" for method', details: [] },
    });
    expect((await list('?limit=lots')).status).toBe(400);
    expect((await list('?pageToken=zzz')).status).toBe(400);
  });

  it('gets and deletes by id; deleting twice is fine; a static token cannot be deleted', async () => {
    const t = await serveForTest(required());
    const created = (await createToken(t, { name: 'x' })).body as {
      clientToken: string;
      authentication: { id: string };
    };
    const { id } = created.authentication;
    const got = await t.fetch(`/auth/v1/tokens/${id}`, { headers: bearer('static-secret') });
    expect(await got.json()).toMatchObject({ id, method: 'METHOD_TOKEN' });

    for (let i = 0; i < 2; i++) {
      const deleted = await t.fetch(`/auth/v1/tokens/${id}`, {
        method: 'DELETE',
        headers: bearer('static-secret'),
      });
      expect(deleted.status).toBe(200);
      expect(await deleted.json()).toEqual({});
    }
    const missing = await t.fetch(`/auth/v1/tokens/${id}`, { headers: bearer('static-secret') });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      code: 5,
      message: 'getting authentication by id not found',
      details: [],
    });
    expect((await t.fetch('/auth/v1/self', { headers: bearer(created.clientToken) })).status).toBe(401);

    expect((await t.fetch('/auth/v1/tokens/ci', { headers: bearer('static-secret') })).status).toBe(404);
    await t.fetch('/auth/v1/tokens/ci', { method: 'DELETE', headers: bearer('static-secret') });
    expect((await t.fetch('/auth/v1/self', { headers: bearer('static-secret') })).status).toBe(200);
  });
});

describe('POST /auth/v1/method/token', () => {
  it('creates a token shown once, with name, description, namespace and metadata, and an expiry', async () => {
    const t = await serveForTest(required());
    const expiresAt = new Date(Date.now() + 86_400_000);
    const { status, body } = await createToken(t, {
      name: 'access_all_areas',
      description: 'keys to the castle',
      namespace_key: 'default',
      expires_at: expiresAt.toISOString(),
      metadata: { team: 'platform' },
      unknownField: true,
    });
    expect(status).toBe(200);
    expect(body.clientToken).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(body.authentication).toMatchObject({
      method: 'METHOD_TOKEN',
      expiresAt: expiresAt.toISOString().replace('.000Z', 'Z'),
      metadata: {
        'io.flipt.auth.token.description': 'keys to the castle',
        'io.flipt.auth.token.name': 'access_all_areas',
        'io.flipt.auth.token.namespace': 'default',
        team: 'platform',
      },
    });
    const listed = await t.fetch(`/auth/v1/tokens/${(body.authentication as { id: string }).id}`, {
      headers: bearer('static-secret'),
    });
    expect(JSON.stringify(await listed.json())).not.toContain(body.clientToken as string);
  });

  it('refuses bad requests with 400 and says why', async () => {
    const t = await serveForTest(required());
    const cases: Array<[unknown, string]> = [
      [{}, 'name must not be empty'],
      [{ name: '   ' }, 'name must not be empty'],
      [{ name: 5 }, 'invalid values for key(s) in json body'],
      [
        { name: 'x', expiresAt: 'tomorrow' },
        'invalid value for expiresAt: "tomorrow" is not an RFC 3339 timestamp: expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM',
      ],
      [{ name: 'x', expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt must be in the future'],
      [{ name: 'x', metadata: { a: 1 } }, 'invalid values for key(s) in json body'],
      [{ name: 'x', metadata: ['a'] }, 'invalid values for key(s) in json body'],
      [
        { name: 'x', metadata: { 'io.flipt.auth.role': 'admin' } },
        'metadata key "io.flipt.auth.role" is reserved: keys starting with io.flipt.auth. are set by the server',
      ],
      [[1, 2], 'invalid values for key(s) in json body'],
    ];
    for (const [body, message] of cases) {
      const response = await createToken(t, body as Record<string, unknown>);
      expect(response, JSON.stringify(body)).toEqual({
        status: 400,
        body: { code: 3, message, details: [] },
      });
    }
    const malformed = await t.fetch('/auth/v1/method/token', {
      method: 'POST',
      headers: { ...bearer('bootstrap-secret'), 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 3 });
  });

  it('requires a credential when authentication is required', async () => {
    const t = await serveForTest(required());
    const response = await t.fetch('/auth/v1/method/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sneaky' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual(UNAUTHENTICATED);
  });

  it('gives tokens that expire: an expired token gets 401 at once', async () => {
    const t = await serveForTest(required());
    const expiresAt = new Date(Date.now() + 300).toISOString();
    const token = (await createToken(t, { name: 'brief', expiresAt })).body.clientToken as string;
    expect((await t.fetch('/auth/v1/self', { headers: bearer(token) })).status).toBe(200);
    await sleep(400);
    const expired = await t.fetch('/auth/v1/self', { headers: bearer(token) });
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual(UNAUTHENTICATED);
    expect(t.logs.some((l) => l.reason === 'authentication_expired' && l.outcome === 'unauthenticated')).toBe(
      true,
    );
  });
});

describe('the /auth/v1 API', () => {
  it("tolerates trailing slashes, prettifies with ?pretty, and answers unknown paths and methods as Flipt's gateway", async () => {
    const t = await serveForTest(required());
    expect((await t.fetch('/auth/v1/self/', { headers: bearer('static-secret') })).status).toBe(200);
    const pretty = await (await t.fetch('/auth/v1/method?pretty')).text();
    expect(pretty).toMatch(/^\{\n {2}"methods": \[\n/);
    const prettyHeader = await (
      await t.fetch('/auth/v1/method', { headers: { accept: 'application/json+pretty' } })
    ).text();
    expect(prettyHeader).toBe(pretty);
    const prettyError = await (await t.fetch('/auth/v1/self?pretty')).text();
    expect(prettyError).toBe(`${JSON.stringify(UNAUTHENTICATED, null, 2)}\n`);

    const unknown = await t.fetch('/auth/v1/nothing-here', { headers: bearer('static-secret') });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: 5, message: 'Not Found', details: [] });
    const wrongMethod = await t.fetch('/auth/v1/self', { method: 'POST' });
    expect(wrongMethod.status).toBe(501);
    expect(await wrongMethod.json()).toEqual({ code: 12, message: 'Method Not Allowed', details: [] });
  });

  it('with required: false never authenticates, so /self is 401 and the rest is open, as in Flipt', async () => {
    const t = await serveForTest({
      authentication: { required: false, methods: { token: { enabled: true } } },
    });
    const token = (await (
      await t.fetch('/auth/v1/method/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'open' }),
      })
    ).json()) as { clientToken: string };
    expect((await t.fetch('/auth/v1/self', { headers: bearer(token.clientToken) })).status).toBe(401);
    expect((await t.fetch('/auth/v1/tokens')).status).toBe(200);
  });

  it('without any method and without required, offers only the method list', async () => {
    const t = await serveForTest({});
    expect((await t.fetch('/auth/v1/method')).status).toBe(200);
    for (const [path, method] of [
      ['/auth/v1/self', 'GET'],
      ['/auth/v1/tokens', 'GET'],
      ['/auth/v1/tokens/x', 'DELETE'],
    ] as const) {
      const response = await t.fetch(path, { method });
      expect(response.status).toBe(501);
      expect(await response.json()).toEqual({
        code: 12,
        message: 'unknown service flipt.auth.AuthenticationService',
        details: [],
      });
    }
  });

  it('logs one line per decision, without the credential', async () => {
    const t = await serveForTest({ ...required(), log: { level: 'debug' } });
    await t.fetch('/auth/v1/self', { headers: bearer('static-secret') });
    await t.fetch('/auth/v1/self', { headers: bearer('wrong-secret-value') });
    const decisions = t.logs.filter((l) => l.msg === 'authentication decision');
    expect(decisions).toEqual([
      expect.objectContaining({
        level: 'debug',
        outcome: 'authenticated',
        method: 'METHOD_TOKEN',
        via: 'bearer',
        path: '/auth/v1/self',
      }),
      expect.objectContaining({
        level: 'warn',
        outcome: 'unauthenticated',
        reason: 'client_token_not_found',
        detail: 'client token not found',
        via: 'bearer',
      }),
    ]);
    expect(typeof decisions[0]?.durationMs).toBe('number');
    expect(JSON.stringify(t.logs)).not.toContain('wrong-secret-value');
    expect(JSON.stringify(t.logs)).not.toContain('static-secret');
  });
});

describe('the /auth/v1 API, edges', () => {
  it('revokes only the caller: other tokens keep working', async () => {
    const t = await serveForTest(required());
    const mine = (await createToken(t, { name: 'mine' })).body.clientToken as string;
    const theirs = (await createToken(t, { name: 'theirs' })).body.clientToken as string;
    await t.fetch('/auth/v1/self/revoke', { method: 'DELETE', headers: bearer(mine) });
    expect((await t.fetch('/auth/v1/self', { headers: bearer(mine) })).status).toBe(401);
    expect((await t.fetch('/auth/v1/self', { headers: bearer(theirs) })).status).toBe(200);
    expect((await t.fetch('/auth/v1/self', { headers: bearer('bootstrap-secret') })).status).toBe(200);
  });

  it('takes the new expiry from a JSON body too', async () => {
    const t = await serveForTest(required());
    const token = (await createToken(t, { name: 'body' })).body.clientToken as string;
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const moved = await t.fetch('/auth/v1/self/expire', {
      method: 'PUT',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ expiresAt: later }),
    });
    expect(moved.status).toBe(200);
    const self = (await (await t.fetch('/auth/v1/self', { headers: bearer(token) })).json()) as {
      expiresAt: string;
    };
    expect(self.expiresAt).toBe(later.replace('.000Z', 'Z'));
  });

  it('refuses at start-up a method route whose path climbs out of its prefix, and mounts the others', async () => {
    for (const [path, refused] of [
      ['/../../../evil', true],
      ['/a/./b', true],
      ['//x', true],
      ['x', true],
      ['*', true],
      ['2/callback', true],
      ['/login', false],
      ['/..well-known', false],
    ] as const) {
      const registry = registryWith(
        testMethod('climber', () => ({
          routes(app) {
            app.get(path, { config: { authenticate: false } }, async () => ({ reached: true }));
          },
        })),
      );
      const started = serveForTest(
        { authentication: { methods: { climber: { enabled: true } } } },
        { registry },
      );
      if (refused) {
        await expect(started, path).rejects.toMatchObject({
          code: 'ERR_PLUGIN_INVALID',
          plugin: 'climber',
          message: expect.stringMatching(/whose path has empty, "\." or "\.\." segments|outside its prefix/),
        });
      } else {
        const t = await started;
        expect((await t.fetch(`/auth/v1/method/climber${path}`)).status, path).toBe(200);
      }
    }
  });

  it('lists every method when one info() throws or answers no JSON object, that one without metadata', async () => {
    const answers: Record<string, () => unknown> = {
      throwing: () => {
        throw new Error('info blew up');
      },
      number: () => 42,
      bigint: () => ({ n: 1n }),
      fine: () => ({ login_url: '/login' }),
    };
    const registry = registryWith(
      ...Object.entries(answers).map(([name, info]) =>
        testMethod(name, undefined, { extra: { info: info as MethodPlugin<object>['info'] } }),
      ),
    );
    const t = await serveForTest({}, { registry });
    for (let i = 0; i < 2; i++) {
      const response = await t.fetch('/auth/v1/method');
      expect(response.status).toBe(200);
      const { methods } = (await response.json()) as {
        methods: Array<{ method: string; metadata?: unknown }>;
      };
      const byMethod = Object.fromEntries(methods.map((m) => [m.method, m]));
      expect(byMethod.METHOD_THROWING).toEqual({
        method: 'METHOD_THROWING',
        enabled: false,
        sessionCompatible: false,
      });
      expect(byMethod.METHOD_NUMBER).not.toHaveProperty('metadata');
      expect(byMethod.METHOD_BIGINT).not.toHaveProperty('metadata');
      expect(byMethod.METHOD_FINE?.metadata).toEqual({ login_url: '/login' });
      expect(byMethod.METHOD_TOKEN).toBeDefined();
    }
    const warnings = t.logs
      .filter((line) => String(line.msg).includes('listed without metadata'))
      .map((line) => line.msg);
    expect(warnings).toEqual([
      'plugin "throwing" failed in info: info blew up; the method is listed without metadata (said once)',
      'plugin "number": info must answer a JSON object or undefined; the method is listed without metadata (said once)',
      'plugin "bigint": info must answer a JSON object or undefined; the method is listed without metadata (said once)',
    ]);
  });

  it('answers 404 for an expiry of a caller that is not stored (a JWT, id "")', async () => {
    const registry = createRegistry();
    const stateless: MethodPlugin<{ enabled: boolean }> = {
      kind: 'method',
      apiVersion: '^1.0.0',
      name: 'stateless',
      method: 'METHOD_JWT',
      sessionCompatible: false,
      configSchema: { type: 'object', additionalProperties: false, properties: {} },
      create: () => ({
        schemes: ['JWT'],
        authenticate: async () => ({ id: '', method: 'METHOD_JWT', metadata: {} }),
      }),
    };
    registry.register({
      kind: 'method',
      name: 'stateless',
      configSchema: stateless.configSchema,
      origin: 'test',
      load: async () => stateless,
    });
    const t = await serveForTest(
      { authentication: { required: true, methods: { stateless: { enabled: true } } } },
      { registry },
    );
    const headers = { authorization: 'JWT anything' };
    expect(await (await t.fetch('/auth/v1/self', { headers })).json()).toEqual({
      id: '',
      method: 'METHOD_JWT',
      metadata: {},
    });
    const expire = await t.fetch('/auth/v1/self/expire', { method: 'PUT', headers });
    expect(expire.status).toBe(404);
    expect(await (await t.fetch('/auth/v1/self/revoke', { method: 'DELETE', headers })).json()).toEqual({});
  });

  it('answers unknown routes 404 before authentication, and unknown methods (OPTIONS, HEAD) 501', async () => {
    const t = await serveForTest(required());
    const unknown = await t.fetch('/nothing/here');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: 5, message: 'Not Found', details: [] });
    for (const method of ['OPTIONS', 'HEAD', 'PATCH']) {
      expect((await t.fetch('/auth/v1/self', { method })).status, method).toBe(501);
    }
  });

  it('refuses a repeated query parameter and a malformed URL in Flipt’s shape', async () => {
    const t = await serveForTest(required());
    const repeated = await t.fetch('/auth/v1/tokens?pageToken=1&pageToken=2', {
      headers: bearer('static-secret'),
    });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toEqual({
      code: 3,
      message: 'invalid value for pageToken: given more than once',
      details: [],
    });
    const malformed = await t.fetch('/auth/v1/self%ZZ', { headers: bearer('static-secret') });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 3, details: [] });
  });

  it('bounds what one token may carry', async () => {
    const t = await serveForTest(required());
    const refused = async (body: Record<string, unknown>) => (await createToken(t, body)).body.message;
    expect(await refused({ name: 'x'.repeat(257) })).toBe('name must be at most 256 characters');
    expect(await refused({ name: 'x', description: 'd'.repeat(1025) })).toBe(
      'description must be at most 1024 characters',
    );
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
    expect(await refused({ name: 'x', metadata: many })).toBe('metadata may hold at most 32 entries');
    expect(await refused({ name: 'x', metadata: { k: 'v'.repeat(1025) } })).toBe(
      'metadata keys must be at most 128 characters and values 1024',
    );
    const huge = await t.fetch('/auth/v1/method/token', {
      method: 'POST',
      headers: { ...bearer('static-secret'), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', description: 'd'.repeat(20_000) }),
    });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ code: 8, message: 'Request body is too large', details: [] });
  });
});
