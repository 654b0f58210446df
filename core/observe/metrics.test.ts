import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../log.ts';
import { parseExposition, value } from '../test-support/exposition.ts';
import { serveForTest, serveReloadable } from '../test-support/server.ts';
import { startUpstream } from '../test-support/upstream.ts';
import { type DecisionOutcome, Metrics } from './metrics.ts';

const config = {
  authentication: {
    required: true,
    methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'metrics-secret' } } } } },
  },
};

describe('/metrics', () => {
  it('counts decisions by method, outcome and reason, and times them, without a credential to read it', async () => {
    const t = await serveForTest(config);
    const ok = { authorization: 'Bearer metrics-secret' };
    for (let i = 0; i < 3; i++) expect((await t.fetch('/auth/v1/self', { headers: ok })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      expect((await t.fetch('/auth/v1/self', { headers: { authorization: 'Bearer nope' } })).status).toBe(
        401,
      );
    }
    expect((await t.fetch('/auth/v1/self')).status).toBe(401);

    const answer = await t.fetch('/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await answer.text();
    const samples = parseExposition(text);
    const decisions = 'portcullis_authentication_decisions_total';
    expect(value(samples, decisions, { outcome: 'authenticated', method: 'METHOD_TOKEN', reason: '' })).toBe(
      3,
    );
    const refused = samples.filter((s) => s.name === decisions && s.labels.outcome === 'unauthenticated');
    expect(refused.reduce((sum, s) => sum + s.value, 0)).toBe(3);
    // Reasons are the stable ids of the refusal logs; labels never carry the credential.
    for (const sample of refused) expect(sample.labels.reason).toMatch(/^[a-z_]+$/);
    expect(text).not.toContain('metrics-secret');
    expect(text).not.toContain('nope');
    expect(value(samples, 'portcullis_authentication_decision_seconds_count', {})).toBe(6);
    expect(
      value(samples, 'portcullis_authentication_decision_seconds_count', { outcome: 'authenticated' }),
    ).toBe(3);
    // Node's process metrics come with it.
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect((await t.fetch('/metrics', { method: 'POST' })).status).toBe(405);
  });

  it('keeps counting across a reload, and stays portcullis’s in front of an upstream', async () => {
    const upstream = await startUpstream();
    const t = await serveReloadable(upstream.url, 'first-secret');
    expect((await t.fetch('/x', { headers: { authorization: 'Bearer first-secret' } })).status).toBe(200);
    t.write('second-secret');
    expect(await t.server.reload()).toBe(true);
    expect((await t.fetch('/x', { headers: { authorization: 'Bearer second-secret' } })).status).toBe(200);
    const samples = parseExposition(await (await t.fetch('/metrics')).text());
    expect(value(samples, 'portcullis_authentication_decisions_total', { outcome: 'authenticated' })).toBe(2);
    // The proxy's and the store's series too: one registry, its metrics registered once, across configurations.
    expect(value(samples, 'portcullis_proxy_requests_total', { kind: 'http', status: '200' })).toBe(2);
    expect(
      value(samples, 'portcullis_store_operations_total', { store: 'memory', outcome: 'ok' }),
    ).toBeGreaterThan(0);
    expect(upstream.received.filter((r) => r.url.startsWith('/metrics'))).toEqual([]);
  });
});

describe('Metrics.login', () => {
  it('counts logins by method, provider, outcome and reason, the reason only when refused', async () => {
    const metrics = new Metrics();
    metrics.login('METHOD_OIDC', 'google', 'started', '');
    metrics.login('METHOD_OIDC', 'google', 'started', '');
    metrics.login('METHOD_OIDC', 'google', 'succeeded', 'ignored');
    metrics.login('METHOD_OIDC', 'google', 'refused', 'state_mismatch');
    metrics.login('METHOD_HTPASSWD', '', 'refused', 'bad_password');
    const samples = parseExposition((await metrics.exposition()).body);
    const logins = 'portcullis_logins_total';
    const google = { method: 'METHOD_OIDC', provider: 'google' };
    expect(value(samples, logins, { ...google, outcome: 'started', reason: '' })).toBe(2);
    expect(value(samples, logins, { ...google, outcome: 'succeeded', reason: '' })).toBe(1);
    expect(value(samples, logins, { ...google, outcome: 'refused', reason: 'state_mismatch' })).toBe(1);
    expect(
      value(samples, logins, {
        method: 'METHOD_HTPASSWD',
        provider: '',
        outcome: 'refused',
        reason: 'bad_password',
      }),
    ).toBe(1);
    expect(samples.filter((s) => s.name === logins)).toHaveLength(4);
  });
});

describe('Metrics.decision', () => {
  it('counts each method, outcome and reason apart, and times each outcome apart, when looked up again', async () => {
    const metrics = new Metrics();
    // Label sets sharing a method, an outcome or a reason with another: each is its own series.
    const sets: Array<[string, DecisionOutcome, string, number | undefined]> = [
      ['METHOD_TOKEN', 'authenticated', '', 1],
      ['METHOD_TOKEN', 'forbidden', 'token_unknown', 2],
      ['none', 'unauthenticated', 'token_unknown', undefined],
      ['none', 'unauthenticated', 'no_credential', 3],
      ['METHOD_JWT', 'authenticated', '', 4],
    ];
    for (let round = 1; round <= 3; round++) {
      for (const [index, [method, outcome, reason, ms]] of sets.entries()) {
        for (let i = 0; i <= index; i++) metrics.decision(outcome, method, reason, ms);
      }
    }
    const samples = parseExposition((await metrics.exposition()).body);
    for (const [index, [method, outcome, reason]] of sets.entries()) {
      expect(value(samples, 'portcullis_authentication_decisions_total', { method, outcome, reason })).toBe(
        3 * (index + 1),
      );
    }
    // Per round: authenticated 1 of 1 ms and 5 of 4 ms; forbidden 2 of 2 ms; unauthenticated 4 of 3 ms (3 not timed).
    const count = (outcome: string) =>
      value(samples, 'portcullis_authentication_decision_seconds_count', { outcome });
    const sum = (outcome: string) =>
      value(samples, 'portcullis_authentication_decision_seconds_sum', { outcome });
    expect(count('authenticated')).toBe(18);
    expect(sum('authenticated')).toBeCloseTo(3 * (0.001 + 5 * 0.004), 9);
    expect(count('forbidden')).toBe(6);
    expect(count('unauthenticated')).toBe(12);
    expect(sum('forbidden')).toBeCloseTo(6 * 0.002, 9);
    expect(sum('unauthenticated')).toBeCloseTo(12 * 0.003, 9);
  });

  it('makes no histogram for an outcome that is never timed (a cross-origin refusal), as before it kept series', async () => {
    const metrics = new Metrics();
    metrics.decision('forbidden', 'none', 'csrf_refused');
    metrics.decision('forbidden', 'none', 'csrf_refused');
    metrics.decision('unauthenticated', 'none', 'authentication_not_required');
    const { body } = await metrics.exposition();
    expect(body).not.toMatch(/^portcullis_authentication_decision_seconds_(bucket|sum|count)\{/m);
    expect(
      value(parseExposition(body), 'portcullis_authentication_decisions_total', {
        method: 'none',
        outcome: 'forbidden',
        reason: 'csrf_refused',
      }),
    ).toBe(2);
    // The same label set timed later gets its histogram then.
    metrics.decision('forbidden', 'none', 'csrf_refused', 2);
    const samples = parseExposition((await metrics.exposition()).body);
    expect(value(samples, 'portcullis_authentication_decision_seconds_count', { outcome: 'forbidden' })).toBe(
      1,
    );
  });

  it('counts a decision like the one before it into the registry after a reset, from zero', async () => {
    const metrics = new Metrics();
    metrics.decision('authenticated', 'METHOD_TOKEN', '', 1);
    metrics.decision('authenticated', 'METHOD_TOKEN', '', 1);
    metrics.registry.resetMetrics();
    metrics.decision('authenticated', 'METHOD_TOKEN', '', 1);
    const samples = parseExposition((await metrics.exposition()).body);
    const labels = { method: 'METHOD_TOKEN', outcome: 'authenticated', reason: '' };
    expect(value(samples, 'portcullis_authentication_decisions_total', labels)).toBe(1);
    expect(
      value(samples, 'portcullis_authentication_decision_seconds_count', { outcome: 'authenticated' }),
    ).toBe(1);
  });
});

describe('Metrics.registry, made on first use', () => {
  it('holds every metric counted before it, in the order they were made, Node’s defaults, and later ones', async () => {
    const metrics = new Metrics();
    const ctx = metrics.forPlugin('early', { warn: () => undefined } as unknown as Logger);
    ctx.increment('before');
    metrics.decision('authenticated', 'METHOD_TOKEN', '', 1);
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    ctx.increment('after');
    const later = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    expect(names[0]).toBe('portcullis_authentication_decisions_total');
    const defaults = names.indexOf('process_cpu_user_seconds_total');
    expect(defaults).toBeGreaterThan(names.indexOf('portcullis_proxy_upstream_seconds'));
    expect(names.indexOf('portcullis_plugin_before_total')).toBeGreaterThan(defaults);
    expect(later.at(-1)).toBe('portcullis_plugin_after_total');
    const samples = parseExposition((await metrics.exposition()).body);
    expect(value(samples, 'portcullis_plugin_before_total', { plugin: 'early' })).toBe(1);
    expect(value(samples, 'portcullis_plugin_after_total', { plugin: 'early' })).toBe(1);
    expect(
      value(samples, 'portcullis_authentication_decisions_total', { method: 'METHOD_TOKEN', reason: '' }),
    ).toBe(1);
  });

  it('reads the event-loop delay from a monitor running since the metrics were made, never an empty one', async () => {
    // An empty monitor's minimum is 2^63 ns (9.2e9 s) and its mean NaN: scraped at once, no sample yet reads 0.
    const atOnce = parseExposition((await new Metrics().exposition()).body);
    expect(value(atOnce, 'nodejs_eventloop_lag_min_seconds', {})).toBeLessThan(10);
    expect(value(atOnce, 'nodejs_eventloop_lag_mean_seconds', {})).not.toBeNaN();
    // The registry made late (an embedder's first read): its first scrape reads what was sampled before it.
    const metrics = new Metrics();
    await sleep(50);
    const late = parseExposition(await metrics.registry.metrics());
    expect(value(late, 'nodejs_eventloop_lag_min_seconds', {})).toBeGreaterThan(0);
    expect(value(late, 'nodejs_eventloop_lag_min_seconds', {})).toBeLessThan(10);
    expect(value(late, 'nodejs_eventloop_lag_p99_seconds', {})).toBeGreaterThan(0);
  });
});

describe('ctx.metrics (Metrics.forPlugin)', () => {
  const log = () => {
    const lines: string[] = [];
    const logger = { warn: (...args: unknown[]) => lines.push(JSON.stringify(args)) } as unknown as Logger;
    return { lines, logger };
  };

  it('records a plugin’s counters and histograms with its name as a label, kept per metric across plugins', async () => {
    const metrics = new Metrics();
    const { logger } = log();
    const htpasswd = metrics.forPlugin('htpasswd', logger);
    const other = metrics.forPlugin('other', logger);
    htpasswd.increment('logins', { outcome: 'ok' });
    htpasswd.increment('logins', { outcome: 'ok' });
    other.increment('logins', { outcome: 'refused' });
    htpasswd.observe('lookup_seconds', 0.02);
    const samples = parseExposition((await metrics.exposition()).body);
    expect(value(samples, 'portcullis_plugin_logins_total', { plugin: 'htpasswd', outcome: 'ok' })).toBe(2);
    expect(value(samples, 'portcullis_plugin_logins_total', { plugin: 'other', outcome: 'refused' })).toBe(1);
    expect(value(samples, 'portcullis_plugin_lookup_seconds_count', { plugin: 'htpasswd' })).toBe(1);
  });

  it('refuses names that are not snake case, the label plugin, other label names, and a counter used as a histogram', () => {
    const metrics = new Metrics();
    const ctx = metrics.forPlugin('p', log().logger);
    ctx.increment('calls', { kind: 'a' });
    for (const misuse of [
      () => ctx.increment('Bad-Name'),
      () => ctx.increment('calls', { Kind: 'a' }),
      () => ctx.increment('calls', { plugin: 'forged' }),
      () => ctx.increment('calls', { other: 'a' }),
      () => ctx.increment('calls'),
      () => ctx.observe('calls', 1, { kind: 'a' }),
    ]) {
      expect(misuse).toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_FAILED' }));
    }
    expect(() => ctx.increment('calls', { kind: 'a' })).not.toThrow();
  });

  it('drops label sets past 1000 a metric, and says so once', async () => {
    const metrics = new Metrics();
    const { lines, logger } = log();
    const ctx = metrics.forPlugin('p', logger);
    for (let i = 0; i < 1200; i++) ctx.increment('seen', { user: `u${i}` });
    const samples = parseExposition((await metrics.exposition()).body);
    expect(samples.filter((s) => s.name === 'portcullis_plugin_seen_total')).toHaveLength(1000);
    expect(lines).toHaveLength(1);
    ctx.increment('seen', { user: 'u1' });
    expect(
      value(parseExposition((await metrics.exposition()).body), 'portcullis_plugin_seen_total', {
        user: 'u1',
      }),
    ).toBe(2);
  });
});

describe('the README', () => {
  it('lists every portcullis metric in its Metrics section', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Metrics\n'), readme.indexOf('### Refusal reasons'));
    const names = (await new Metrics().registry.getMetricsAsJSON())
      .map((metric) => metric.name)
      .filter((name) => name.startsWith('portcullis_'));
    expect(names.length).toBeGreaterThanOrEqual(12);
    for (const name of names) expect(section, name).toMatch(new RegExp(`^- \`${name}[{\`]`, 'm'));
  });
});
