import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../test-support/tmp.ts';
import { AuditStream } from './stream.ts';
import { auditConfig, capturedLogger, metricValue } from './test-support/support.ts';

const record = (n: number) =>
  ({
    type: 'logout',
    action: 'back_channel',
    status: 'success',
    actor: { authentication: 'oidc', name: 'Ada' },
    payload: { n },
  }) as const;

const FIELDS = ['version', 'type', 'action', 'metadata', 'payload', 'timestamp', 'status'];

describe('the log sink', () => {
  it('appends one JSON object per line to its file, creating its folder', async () => {
    const file = join(tempDir(), 'nested', 'audit', 'events.log');
    const config = await auditConfig({ sinks: { log: { enabled: true, file } } });
    const registry = new Registry();
    for (const round of [1, 2]) {
      const stream = new AuditStream(config, { log: capturedLogger().log, registry });
      for (let n = 1; n <= 3; n++) stream.record(record(round * 10 + n));
      await stream.close();
    }
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    // Appended: the second stream's events follow the first's.
    expect(events.map((e) => (e.payload as { n: number }).n)).toEqual([11, 12, 13, 21, 22, 23]);
    expect(Object.keys(events[0] ?? {})).toEqual(FIELDS);
    expect(events[0]).toMatchObject({
      version: '0.2',
      type: 'logout',
      action: 'back_channel',
      metadata: { actor: { authentication: 'oidc', name: 'Ada' } },
      status: 'success',
    });
    expect(
      await metricValue(registry, 'portcullis_audit_events_total', { sink: 'log', outcome: 'sent' }),
    ).toBe(6);
  });

  it('without a file, logs each event at info with the message AUDIT and its fields inline, whatever log.level', async () => {
    const { log, entries } = capturedLogger('error');
    const config = await auditConfig({ sinks: { log: { enabled: true } } });
    const stream = new AuditStream(config, { log, registry: new Registry() });
    stream.record(record(1));
    stream.record({ type: 'token', action: 'created', status: 'success' });
    await stream.close();
    const audit = entries().filter((e) => e.msg === 'AUDIT');
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({
      level: 'info',
      version: '0.2',
      type: 'logout',
      action: 'back_channel',
      payload: { n: 1 },
      status: 'success',
    });
    expect(audit[1]).toMatchObject({ type: 'token', action: 'created', metadata: {}, payload: null });
  });

  it('counts and logs once a file it cannot write, never throwing, and writes again once it can', async () => {
    const dir = tempDir();
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    const file = join(blocker, 'audit.log');
    const { log, entries } = capturedLogger();
    const registry = new Registry();
    const config = await auditConfig({ sinks: { log: { enabled: true, file } } });
    const stream = new AuditStream(config, { log, registry }, { flushPeriodMs: 10 });
    const outcome = (o: string) =>
      metricValue(registry, 'portcullis_audit_events_total', { sink: 'log', outcome: o });
    const recordSlowly = async (from: number, to: number) => {
      for (let n = from; n <= to; n++) {
        expect(() => stream.record(record(n))).not.toThrow();
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    };
    await recordSlowly(1, 4);
    await vi.waitFor(async () => expect(await outcome('failed')).toBe(4));
    const errors = entries().filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      sink: 'log',
      file,
      msg: expect.stringMatching(/^audit log file cannot be written/),
    });

    rmSync(blocker);
    await recordSlowly(5, 6);
    await stream.close();
    expect(await outcome('sent')).toBe(2);
    expect(entries().find((e) => e.msg === 'audit log file writable again')).toMatchObject({ lost: 4 });
    const written = readFileSync(file, 'utf8').trim().split('\n');
    expect(written.map((line) => (JSON.parse(line) as { payload: { n: number } }).payload.n)).toEqual([5, 6]);
  });
});
