import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from './record.ts';
import { AuditStream, auditEnabled } from './stream.ts';
import { auditConfig, capturedLogger, metricValue } from './test-support/support.ts';

const token = (n: number): AuditRecord => ({
  type: 'token',
  action: 'created',
  status: 'success',
  payload: { n },
});

/** A stream logging its events through a captured logger: `audited()` is what reached the log sink. */
async function loggedStream(
  settings: Record<string, unknown> = {},
  flushPeriodMs = 60_000,
  registry = new Registry(),
) {
  const { log, entries } = capturedLogger();
  const config = await auditConfig({ sinks: { log: { enabled: true } }, ...settings });
  const stream = new AuditStream(
    config,
    { log, registry },
    { flushPeriodMs, now: () => new Date('2025-03-04T05:06:07.891Z') },
  );
  const audited = () => entries().filter((e) => e.msg === 'AUDIT');
  return { stream, audited, entries, registry };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('the audit stream', () => {
  it('hands a batch to the sinks when it holds buffer.capacity events', async () => {
    const { stream, audited } = await loggedStream({ buffer: { capacity: 3 } });
    stream.record(token(1));
    stream.record(token(2));
    await tick();
    expect(audited()).toEqual([]);
    stream.record(token(3));
    await vi.waitFor(() => expect(audited()).toHaveLength(3));
    expect(audited().map((e) => (e.payload as { n: number }).n)).toEqual([1, 2, 3]);
    await stream.close();
  });

  it('hands a smaller batch over when the flush period has passed since its first event', async () => {
    const { stream, audited } = await loggedStream({ buffer: { capacity: 10 } }, 150);
    stream.record(token(1));
    await tick();
    stream.record(token(2));
    await tick();
    expect(audited()).toEqual([]);
    await vi.waitFor(() => expect(audited()).toHaveLength(2), { timeout: 1000 });
    await stream.close();
  });

  it('stamps Flipt’s envelope: version 0.2, a UTC timestamp to the second, the actor without empty fields', async () => {
    const { stream, audited } = await loggedStream();
    stream.record({
      type: 'login',
      action: 'refused',
      status: 'denied',
      actor: { authentication: 'github', ip: '', email: 'ada@example.com' },
      payload: { reason: 'email_not_allowed' },
    });
    await stream.close();
    expect(audited()[0]).toMatchObject({
      version: '0.2',
      type: 'login',
      action: 'refused',
      metadata: { actor: { authentication: 'github', email: 'ada@example.com' } },
      payload: { reason: 'email_not_allowed' },
      timestamp: '2025-03-04T05:06:07Z',
      status: 'denied',
    });
    expect(audited()[0]?.metadata).toEqual({ actor: { authentication: 'github', email: 'ada@example.com' } });
  });

  it('keeps only what audit.events asks for, and nothing when no sink is enabled', async () => {
    const { stream, audited } = await loggedStream({ events: ['login:*', 'plugin:device_registered'] });
    expect(stream.wants('login', 'succeeded')).toBe(true);
    expect(stream.wants('token', 'created')).toBe(false);
    expect(stream.wants('plugin', 'device_registered')).toBe(true);
    expect(stream.wants('plugin', 'other')).toBe(false);
    stream.record(token(1));
    stream.record({ type: 'login', action: 'succeeded', status: 'success' });
    await stream.close();
    expect(audited().map((e) => `${e.type}:${e.action}`)).toEqual(['login:succeeded']);

    const config = await auditConfig({});
    expect(auditEnabled(config)).toBe(false);
    const registry = new Registry();
    const off = new AuditStream(config, { ...capturedLogger(), registry });
    expect(off.enabled).toBe(false);
    expect(off.wants('token', 'created')).toBe(false);
    off.record(token(1));
    await off.close();
    expect(
      await metricValue(registry, 'portcullis_audit_events_total', { sink: 'log', outcome: 'sent' }),
    ).toBe(0);
  });

  it('never throws from record, and logs a record it cannot serialise once', async () => {
    const { stream, audited, entries } = await loggedStream({ buffer: { capacity: 2 } });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad = {
      type: 'plugin',
      action: 'odd',
      status: 'success',
      payload: { big: 1n },
    } as unknown as AuditRecord;
    expect(() => stream.record(bad)).not.toThrow();
    expect(() => stream.record({ ...bad, payload: circular } as unknown as AuditRecord)).not.toThrow();
    stream.record(token(1));
    await stream.close();
    expect(audited()).toHaveLength(1);
    expect(entries().filter((e) => String(e.msg).startsWith('audit event cannot be recorded'))).toHaveLength(
      1,
    );
  });

  it('shares one registry with the streams before it (a reload): counters go on, the pending gauge adds up', async () => {
    const registry = new Registry();
    for (const round of [1, 2]) {
      const { stream } = await loggedStream({}, 60_000, registry);
      stream.record(token(round));
      stream.record(token(round));
      await stream.close();
    }
    expect(
      await metricValue(registry, 'portcullis_audit_events_total', { sink: 'log', outcome: 'sent' }),
    ).toBe(4);
    expect(await metricValue(registry, 'portcullis_audit_pending_events', { sink: 'log' })).toBe(0);
    const exposition = await registry.metrics();
    expect(exposition).toContain('portcullis_audit_events_dropped_total{sink="log",cause="buffer_full"} 0');
    expect(exposition).not.toContain('sink="webhook"');
  });
});
