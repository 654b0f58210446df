import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExposition, scrape, value } from '../test-support/exposition.ts';
import { bearer, serveForTest } from '../test-support/server.ts';
import { tempDir } from '../test-support/tmp.ts';
import { capturedLogger } from './audit/test-support/support.ts';
import { Metrics } from './metrics.ts';

/** Faults a fresh review of issue 20 found (each test failed on ca049c8), and what their fixes added. */

const events = (file: string) =>
  (existsSync(file) ? readFileSync(file, 'utf8') : '')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { type: string; action: string; status: string });

const oidc = (file: string) => ({
  authentication: {
    required: true,
    session: { domain: 'localhost', secure: false },
    methods: {
      token: { enabled: true, storage: { tokens: { demo: { credential: 'static-r20' } } } },
      oidc: {
        enabled: true,
        providers: {
          main: {
            issuer_url: 'http://127.0.0.1:1',
            client_id: 'c',
            client_secret: 'oidc-secret-r20',
            redirect_address: 'http://localhost',
          },
        },
      },
    },
  },
  audit: { sinks: { log: { enabled: true, file } } },
});

describe('review R: audit and metrics faults', () => {
  it('records no logout:self when revoking a static token, which stays valid', async () => {
    const file = join(tempDir(), 'audit.log');
    const t = await serveForTest(oidc(file));
    const revoke = await t.fetch('/auth/v1/self/revoke', { method: 'DELETE', headers: bearer('static-r20') });
    expect(revoke.status).toBe(200);
    expect((await t.fetch('/auth/v1/self', { headers: bearer('static-r20') })).status).toBe(200);
    await t.server.close();
    expect(events(file).filter((e) => e.type === 'logout')).toEqual([]);
  });

  it('keeps login:refused events of a flood of forged callbacks to the refusal rate (rest counted rate_limited)', async () => {
    const file = join(tempDir(), 'audit.log');
    const t = await serveForTest(oidc(file));
    await Promise.all(
      Array.from({ length: 600 }, () =>
        t.fetch('/auth/v1/method/oidc/main/callback?state=a&code=b').then((r) => r.arrayBuffer()),
      ),
    );
    const dropped = value(await scrape(t.fetch), 'portcullis_audit_events_dropped_total', {
      cause: 'rate_limited',
    });
    await t.server.close();
    const refused = events(file).filter((e) => e.type === 'login' && e.action === 'refused');
    expect(refused.length).toBeLessThanOrEqual(300); // REFUSAL_LINES_PER_SECOND is 100
    expect(dropped).toBeGreaterThan(0);
  });

  it('counts no login as started when authorize fails and redirects nowhere', async () => {
    const t = await serveForTest(oidc(join(tempDir(), 'audit.log')));
    expect((await t.fetch('/auth/v1/method/oidc/main/authorize')).status).toBe(500);
    const samples = await scrape(t.fetch);
    expect(value(samples, 'portcullis_logins_total', { outcome: 'started' })).toBe(0);
    await t.server.close();
  });

  it('ctx.metrics of one plugin is not broken, nor starved of label sets, by another plugin using the same name', () => {
    const { log } = capturedLogger();
    const metrics = new Metrics();
    const a = metrics.forPlugin('plugin_a', log);
    const b = metrics.forPlugin('plugin_b', log);
    a.increment('requests', { kind: 'x' });
    expect(() => b.increment('requests')).not.toThrow();
    for (let i = 0; i < 1000; i++) a.observe('latency', 1, { n: String(i) });
    b.observe('latency', 1, { n: 'b-only' });
    return metrics.exposition().then(({ body }) => {
      const samples = parseExposition(body);
      expect(value(samples, 'portcullis_plugin_latency_count', { plugin: 'plugin_b' })).toBe(1);
    });
  });

  it('a plugin metric name that clashes in the exposition throws ERR_PLUGIN_FAILED, as documented', () => {
    const { log } = capturedLogger();
    const m = new Metrics().forPlugin('p', log);
    m.increment('hits');
    let thrown: unknown;
    try {
      m.observe('hits_total', 1);
    } catch (error) {
      thrown = error;
    }
    expect((thrown as { code?: string }).code).toBe('ERR_PLUGIN_FAILED');
  });

  it('keeps counting decisions after the registry is reset (an embedder’s registry.resetMetrics())', async () => {
    const metrics = new Metrics();
    metrics.decision('authenticated', 'METHOD_TOKEN', '', 1);
    metrics.registry.resetMetrics();
    metrics.decision('authenticated', 'METHOD_TOKEN', '', 1);
    const samples = parseExposition((await metrics.exposition()).body);
    expect(value(samples, 'portcullis_authentication_decisions_total', { outcome: 'authenticated' })).toBe(1);
  });

  it('honours Flipt’s metrics.enabled: false (no /metrics served without a credential)', async () => {
    const t = await serveForTest({ ...oidc(join(tempDir(), 'audit.log')), metrics: { enabled: false } });
    expect((await t.fetch('/metrics')).status).not.toBe(200);
    await t.server.close();
  });
});

describe('review R: metrics.require_authentication', () => {
  it('has /metrics need a valid credential, whatever authentication.required says', async () => {
    const t = await serveForTest({
      authentication: {
        required: false,
        methods: { token: { enabled: true, storage: { tokens: { scraper: { credential: 'scrape-r20' } } } } },
      },
      metrics: { require_authentication: true },
    });
    expect((await t.fetch('/metrics')).status).toBe(401);
    expect((await t.fetch('/metrics', { headers: bearer('wrong') })).status).toBe(401);
    const scraped = await t.fetch('/metrics', { headers: bearer('scrape-r20') });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('portcullis_authentication_decisions_total');
    await t.server.close();
  });
});
