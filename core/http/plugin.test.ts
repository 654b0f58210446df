import { request as httpRequest } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createRegistry } from '../plugins/builtins.ts';
import type { MethodPlugin } from '../plugins/contracts.ts';
import { startUpstream } from '../test-support/upstream.ts';
import { portcullis } from './plugin.ts';

const silent = { write: () => true };

/** An application of its own that embeds portcullis, served on a free port. */
async function application(
  config: Record<string, unknown>,
  extra: Partial<Parameters<typeof portcullis>[1]> = {},
) {
  const app: FastifyInstance = Fastify();
  await app.register(portcullis, { object: config, env: {}, logDestination: silent, ...extra });
  app.post('/evaluate/v1/boolean', async (request) => ({
    enabled: true,
    caller: request.authentication?.id ?? null,
  }));
  app.get('/api/v1/flags', async (request) => ({ flags: [], caller: request.authentication?.id ?? null }));
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  onTestFinished(() => app.close());
  return { app, address, get: (path: string, init?: RequestInit) => fetch(`${address}${path}`, init) };
}

const tokenConfig = (authentication: Record<string, unknown>) => ({
  authentication: {
    ...authentication,
    methods: { token: { enabled: true, storage: { tokens: { app: { credential: 'app-secret' } } } } },
  },
});

describe('the Fastify plugin', () => {
  it('as a gateway, keeps the headers the application sets on a reply (CORS, say) on the upstream’s answers', async () => {
    const upstream = await startUpstream();
    const app: FastifyInstance = Fastify();
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('access-control-allow-origin', 'https://app.example');
      reply.header('x-upstream', 'the application’s');
    });
    await app.register(portcullis, {
      object: { ...tokenConfig({ required: true }), gateway: { upstream: upstream.url } },
      env: {},
      logDestination: silent,
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    onTestFinished(() => app.close());
    const response = await fetch(`${address}/proxied`, { headers: { authorization: 'Bearer app-secret' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, url: '/proxied' });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    // Where both set one, the upstream's answer wins.
    expect(response.headers.get('x-upstream')).toBe('yes');
    expect(upstream.received.map((r) => r.url)).toEqual(['/proxied']);
  });

  it('with exclude.evaluation, lets evaluation through without a token and guards everything else', async () => {
    const { get } = await application(tokenConfig({ required: true, exclude: { evaluation: true } }));
    const evaluation = await get('/evaluate/v1/boolean', { method: 'POST' });
    expect(evaluation.status).toBe(200);
    expect(await evaluation.json()).toEqual({ enabled: true, caller: null });

    const flags = await get('/api/v1/flags');
    expect(flags.status).toBe(401);
    expect(await flags.json()).toEqual({ code: 16, message: 'request was not authenticated', details: [] });

    const authorised = await get('/api/v1/flags', { headers: { authorization: 'Bearer app-secret' } });
    expect(await authorised.json()).toEqual({ flags: [], caller: 'app' });
    // Excluded routes ignore credentials entirely, even bad ones.
    const ignored = await get('/evaluate/v1/boolean', {
      method: 'POST',
      headers: { authorization: 'Bearer wrong' },
    });
    expect(ignored.status).toBe(200);
  });

  it('without exclusions, guards evaluation too', async () => {
    const { get } = await application(tokenConfig({ required: true }));
    expect((await get('/evaluate/v1/boolean', { method: 'POST' })).status).toBe(401);
  });

  it('tolerates trailing slashes on its API even when the application does not ask Fastify to', async () => {
    const { get } = await application(tokenConfig({ required: true }));
    const headers = { authorization: 'Bearer app-secret' };
    expect((await get('/auth/v1/self/', { headers })).status).toBe(200);
    const tokens = await get('/auth/v1/tokens/', { headers });
    expect(tokens.status).toBe(200);
    const listing = (await tokens.json()) as { authentications: unknown[]; nextPageToken: string };
    expect(Array.isArray(listing.authentications)).toBe(true);
    expect(listing.nextPageToken).toBe('');
    expect((await get('/auth/v1/tokens', { headers })).status).toBe(200);
  });

  it('with required: false, lets everything through and /auth/v1/self still says 401', async () => {
    const { get } = await application(tokenConfig({ required: false }));
    expect((await get('/evaluate/v1/boolean', { method: 'POST' })).status).toBe(200);
    expect(
      await (await get('/api/v1/flags', { headers: { authorization: 'Bearer app-secret' } })).json(),
    ).toEqual({
      flags: [],
      caller: null,
    });
    const self = await get('/auth/v1/self', { headers: { authorization: 'Bearer app-secret' } });
    expect(self.status).toBe(401);
  });

  it('authenticates with the flipt_client_token cookie when there is no Authorization header', async () => {
    const { get } = await application(tokenConfig({ required: true }));
    const byCookie = await get('/api/v1/flags', {
      headers: { cookie: 'other=1; flipt_client_token=app-secret' },
    });
    expect(await byCookie.json()).toEqual({ flags: [], caller: 'app' });
    const mixed = await get('/api/v1/flags', {
      headers: { cookie: 'flipt_client_token=app-secret', authorization: 'Basic Zm9vOmJhcg==' },
    });
    expect(mixed.status).toBe(401);
  });

  it('hands schemes declared by a third-party method to it', async () => {
    const ldap: MethodPlugin<{ enabled: boolean }> = {
      kind: 'method',
      apiVersion: '^1.0.0',
      name: 'ldap',
      method: 'METHOD_LDAP',
      sessionCompatible: false,
      configSchema: { type: 'object', additionalProperties: false, properties: {} },
      create: () => ({
        schemes: ['Basic'],
        async authenticate({ value }) {
          if (value !== Buffer.from('ada:lovelace').toString('base64')) throw new Error('wrong password');
          return { id: 'ada', method: 'METHOD_LDAP', metadata: { 'io.flipt.auth.email': 'ada@example.com' } };
        },
      }),
    };
    const registry = createRegistry();
    registry.register({
      kind: 'method',
      name: 'ldap',
      configSchema: ldap.configSchema,
      origin: 'test',
      load: async () => ldap,
    });
    const { get } = await application(
      { authentication: { required: true, methods: { ldap: { enabled: true } } } },
      { registry },
    );
    const basic = (user: string) => ({ authorization: `Basic ${Buffer.from(user).toString('base64')}` });
    expect(await (await get('/api/v1/flags', { headers: basic('ada:lovelace') })).json()).toEqual({
      flags: [],
      caller: 'ada',
    });
    expect((await get('/api/v1/flags', { headers: basic('ada:babbage') })).status).toBe(401);
    const methods = (await (await get('/auth/v1/method')).json()) as {
      methods: Array<{ method: string; enabled: boolean }>;
    };
    expect(methods.methods.at(-1)).toEqual({
      method: 'METHOD_LDAP',
      enabled: true,
      sessionCompatible: false,
    });
  });

  it('uses a runtime it was given without closing it, and closes one it created', async () => {
    const { app } = await application(tokenConfig({ required: true }));
    await app.close();
    await expect(app.close()).resolves.toBeUndefined();
  });
});

describe('exclusions against the router', () => {
  /** GET with the path exactly as written (fetch would resolve `..` before sending). */
  const raw = (address: string, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(address);
      const request = httpRequest({ host: hostname, port, path, method: 'GET' }, (response) => {
        let body = '';
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      request.end();
    });

  it('cannot be used to reach a protected route by a path that climbs into an excluded section', async () => {
    // Semicolon delimiting (Fastify 4's default) as the router option; its typings do not list it yet.
    const app: FastifyInstance = Fastify({ routerOptions: { useSemicolonDelimiter: true } as never });
    await app.register(portcullis, {
      object: tokenConfig({ required: true, exclude: { evaluation: true } }),
      env: {},
      logDestination: silent,
    });
    app.get('/api/v1/*', async () => ({ wildcard: true }));
    app.get('/api/v1/flags', async () => ({ flags: true }));
    app.get('/evaluate/v1/boolean', async () => ({ evaluation: true }));
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    onTestFinished(() => app.close());

    for (const path of [
      '/api/v1/x/../../../evaluate/v1/boolean',
      '/api/v1/x/%2e%2e/%2e%2e/%2e%2e/evaluate/v1/boolean',
      '/api/v1/flags;/../../../evaluate/v1/boolean',
    ]) {
      expect((await raw(address, path)).status, path).toBe(401);
    }
    expect(await raw(address, '/evaluate/v1/boolean')).toEqual({ status: 200, body: '{"evaluation":true}' });
  });
});
