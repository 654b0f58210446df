import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { RootConfig } from '../config/types.ts';
import { createLogger, SecretScrubber } from '../log.ts';
import { MAX_OUTBOUND_HOSTS, Metrics } from '../observe/metrics.ts';
import { parseExposition, scrape, value } from '../test-support/exposition.ts';
import { startTestProvider } from '../test-support/openid-provider.ts';
import { freePort } from '../test-support/ports.ts';
import { serveForTest } from '../test-support/server.ts';
import { createMethodContext } from './context.ts';
import type { MethodStore, SessionHelpers } from './contracts.ts';

const REQUESTS = 'portcullis_outbound_requests_total';
const SECONDS = 'portcullis_outbound_request_seconds_count';

const log = createLogger({ level: 'fatal', encoding: 'json', keys: {} }, new SecretScrubber(), {
  write: () => true,
});

/** A method context as the runtime makes one, counting into `metrics` as the plugin `plugin`. */
function contextFor(metrics: Metrics, plugin: string) {
  const handle = createMethodContext({
    name: plugin,
    log,
    config: {} as RootConfig,
    store: {} as MethodStore,
    session: {} as SessionHelpers,
    metrics: metrics.forPlugin(plugin, log),
  });
  onTestFinished(() => handle.release());
  return handle.context;
}

const samplesOf = async (metrics: Metrics) => parseExposition((await metrics.exposition()).body);

describe('outbound request metrics (ctx.fetch, ctx.createFetch)', () => {
  let server: Server;
  let host: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      const path = request.url?.split('?')[0];
      if (path === '/ok') response.end('fine');
      else if (path === '/down') response.writeHead(503).end('down');
      else if (path === '/missing') response.writeHead(404).end();
      else if (path === '/echo') {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () =>
          response.end(`${request.method} ${request.headers['x-probe']} ${Buffer.concat(chunks).toString()}`),
        );
      }
      // `/slow` never answers.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('counts by plugin, host:port and status class, error or timeout, and times each to its response head', async () => {
    const metrics = new Metrics();
    const ctx = contextFor(metrics, 'probe');
    expect((await ctx.fetch(`http://${host}/ok`)).status).toBe(200);
    expect((await ctx.fetch(new URL(`http://${host}/ok?q=secret-looking`))).status).toBe(200);
    expect((await ctx.fetch(`http://${host}/down`)).status).toBe(503);
    const quick = ctx.createFetch({ timeoutMs: 200 });
    expect((await quick(`http://${host}/missing`)).status).toBe(404);
    await expect(quick(`http://${host}/slow`)).rejects.toMatchObject({ name: 'TimeoutError' });
    const closed = await freePort();
    await expect(ctx.fetch(`http://127.0.0.1:${closed}/`)).rejects.toThrow(/fetch failed/);

    const samples = await samplesOf(metrics);
    const at = (outcome: string, where = host) =>
      value(samples, REQUESTS, { plugin: 'probe', host: where, outcome });
    expect(at('2xx')).toBe(2);
    expect(at('5xx')).toBe(1);
    expect(at('4xx')).toBe(1);
    expect(at('timeout')).toBe(1);
    expect(at('error', `127.0.0.1:${closed}`)).toBe(1);
    expect(value(samples, SECONDS, { plugin: 'probe' })).toBe(6);
    expect(value(samples, SECONDS, { plugin: 'probe', host })).toBe(5);
    // The host is the label: never the path or the query.
    expect((await metrics.exposition()).body).not.toMatch(/secret-looking|\/ok|\/slow/);
  });

  it('takes a Request, as the contract says: its method, headers and body (Node’s Request is not undici’s)', async () => {
    const ctx = contextFor(new Metrics(), 'probe');
    const request = new Request(`http://${host}/echo`, {
      method: 'POST',
      headers: { 'x-probe': 'yes' },
      body: 'payload',
    });
    expect(await (await ctx.fetch(request)).text()).toBe('POST yes payload');
    const quick = ctx.createFetch({ timeoutMs: 200 });
    await expect(quick(new Request(`http://${host}/slow`))).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('names the scheme’s port when the URL has none', async () => {
    const metrics = new Metrics();
    const ctx = contextFor(metrics, 'probe');
    // Nothing listens on 127.0.0.2:80 for these tests; the request fails either way, fast.
    await ctx
      .createFetch({ timeoutMs: 500 })('http://127.0.0.2/')
      .catch(() => undefined);
    const samples = await samplesOf(metrics);
    expect(value(samples, REQUESTS, { plugin: 'probe', host: '127.0.0.2:80' })).toBe(1);
  });

  it(`counts a plugin's hosts past ${MAX_OUTBOUND_HOSTS} as "other", across the contexts of reloads`, async () => {
    const metrics = new Metrics();
    const first = contextFor(metrics, 'many');
    const calls: Promise<unknown>[] = [];
    // Distinct hosts (loopback addresses) that answer at once: nothing listens on their port.
    const closed = await freePort();
    for (let i = 1; i <= MAX_OUTBOUND_HOSTS; i++) {
      calls.push(first.fetch(`http://127.0.1.${i}:${closed}/`).catch(() => undefined));
    }
    await Promise.all(calls);
    // A reload's context for the same plugin: the cap is the plugin's, not the context's.
    const second = contextFor(metrics, 'many');
    await second.fetch(`http://127.0.2.1:${closed}/`).catch(() => undefined);
    await second.fetch(`http://127.0.1.1:${closed}/`).catch(() => undefined);
    // Another plugin has its own hosts.
    await contextFor(metrics, 'other_plugin')
      .fetch(`http://127.0.2.1:${closed}/`)
      .catch(() => undefined);
    const samples = await samplesOf(metrics);
    const hosts = new Set(
      samples.filter((s) => s.name === REQUESTS && s.labels.plugin === 'many').map((s) => s.labels.host),
    );
    expect(hosts.size).toBe(MAX_OUTBOUND_HOSTS + 1);
    expect(value(samples, REQUESTS, { plugin: 'many', host: 'other' })).toBe(1);
    expect(value(samples, REQUESTS, { plugin: 'many', host: `127.0.1.1:${closed}` })).toBe(2);
    expect(value(samples, REQUESTS, { plugin: 'other_plugin', host: `127.0.2.1:${closed}` })).toBe(1);
  });

  it('counts what a real method calls out to: the OIDC plugin’s discovery and JWKS at its provider', async () => {
    const op = await startTestProvider({
      clients: [{ client_id: 'portcullis', client_secret: 's', redirect_uris: ['http://x/callback'] }],
    });
    onTestFinished(() => op.close());
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: {
          oidc: {
            enabled: true,
            providers: {
              main: {
                issuer_url: op.issuer,
                client_id: 'portcullis',
                client_secret: 's',
                redirect_address: 'http://x',
              },
            },
          },
        },
      },
    });
    expect((await t.fetch('/auth/v1/method/oidc/main/authorize')).status).toBe(200);
    const samples = await scrape(t.fetch);
    const issuer = new URL(op.issuer);
    expect(
      value(samples, REQUESTS, { plugin: 'oidc', host: `${issuer.hostname}:${issuer.port}`, outcome: '2xx' }),
    ).toBeGreaterThanOrEqual(1);
  });
});
