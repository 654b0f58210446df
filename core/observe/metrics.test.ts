import { describe, expect, it } from 'vitest';
import { serveForTest, serveReloadable } from '../test-support/server.ts';
import { startUpstream } from '../test-support/upstream.ts';

/** One sample of the Prometheus text format: its name, labels and value. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the text exposition format (0.0.4): every sample line, comments skipped. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      );
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

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
    expect(upstream.received.filter((r) => r.url.startsWith('/metrics'))).toEqual([]);
  });
});
