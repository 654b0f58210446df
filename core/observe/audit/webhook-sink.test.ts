import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AuditStream, type AuditStreamOptions } from './stream.ts';
import { type Answer, Receiver } from './test-support/receiver.ts';
import { auditConfig, capturedLogger, metricValue } from './test-support/support.ts';

const SECRET = 'webhook-signing-secret-6f1d';

/** A stream with only the webhook sink enabled, sending to `receiver`, and what it logs. */
async function webhookStream(
  receiver: Receiver,
  options: AuditStreamOptions & { buffer?: Record<string, unknown>; maxBackoff?: string } = {},
) {
  const { log, lines, entries } = capturedLogger();
  const registry = new Registry();
  const config = await auditConfig({
    sinks: {
      webhook: {
        enabled: true,
        url: receiver.url,
        signing_secret: SECRET,
        ...(options.maxBackoff !== undefined && { max_backoff_duration: options.maxBackoff }),
      },
    },
    buffer: { capacity: 2, ...options.buffer },
  });
  const stream = new AuditStream(config, { log, registry }, { flushPeriodMs: 50, ...options });
  const count = (outcome: string) =>
    metricValue(registry, 'portcullis_audit_events_total', { sink: 'webhook', outcome });
  const dropped = (cause: string) =>
    metricValue(registry, 'portcullis_audit_events_dropped_total', { sink: 'webhook', cause });
  return { stream, registry, lines, entries, count, dropped };
}

/** `login:succeeded` event number `n` (its payload says which). */
const event = (n: number) =>
  ({
    type: 'login',
    action: 'succeeded',
    status: 'success',
    actor: { authentication: 'oidc', ip: '127.0.0.1', email: 'ada@example.com' },
    payload: { n, method: 'oidc', note: 'déjà vu ✓' },
  }) as const;

const numbers = (received: readonly { event: { payload: Record<string, unknown> | null } }[]) =>
  received.map((r) => r.event.payload?.n);

describe('the webhook sink', () => {
  it('POSTs each event once, in order, as Flipt’s JSON, signed with an HMAC the receiver verifies', async () => {
    const receiver = await new Receiver(SECRET).up();
    const { stream, count } = await webhookStream(receiver);
    for (let n = 1; n <= 7; n++) stream.record(event(n));
    stream.flush();
    const received = await receiver.waitFor(7);
    expect(numbers(received)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(received.every((r) => r.verified)).toBe(true);
    expect(received[0]?.headers['content-type']).toBe('application/json');
    const first: Record<string, unknown> = received[0]?.event ?? {};
    expect(Object.keys(first)).toEqual([
      'version',
      'type',
      'action',
      'metadata',
      'payload',
      'timestamp',
      'status',
    ]);
    expect(first).toMatchObject({
      version: '0.2',
      type: 'login',
      action: 'succeeded',
      metadata: { actor: { authentication: 'oidc', ip: '127.0.0.1', email: 'ada@example.com' } },
      payload: { n: 1, method: 'oidc', note: 'déjà vu ✓' },
      status: 'success',
    });
    expect(first.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await stream.close();
    expect(receiver.received).toHaveLength(7);
    expect(await count('sent')).toBe(7);
  });

  it('a receiver that checks with another secret sees the signature fail; none is sent without a secret', async () => {
    const receiver = await new Receiver('another-secret').up();
    const { stream } = await webhookStream(receiver);
    stream.record(event(1));
    stream.flush();
    expect((await receiver.waitFor(1))[0]?.verified).toBe(false);
    await stream.close();

    const unsigned = await new Receiver(SECRET).up();
    const config = await auditConfig({ sinks: { webhook: { enabled: true, url: unsigned.url } } });
    const plain = new AuditStream(config, { ...capturedLogger(), registry: new Registry() });
    plain.record(event(1));
    plain.flush();
    expect((await unsigned.waitFor(1))[0]?.headers['x-flipt-webhook-signature']).toBeUndefined();
    await plain.close();
  });

  it('keeps events while the receiver is down and delivers them all, in order, once it is up; record() never waits', async () => {
    const receiver = await new Receiver(SECRET).up();
    await receiver.down();
    const { stream, entries, count } = await webhookStream(receiver);
    const started = performance.now();
    for (let n = 1; n <= 200; n++) expect(stream.record(event(n))).toBeUndefined();
    stream.flush();
    const elapsed = performance.now() - started;
    // 200 records and a flush, synchronously: no request was made or awaited on this path.
    expect(elapsed).toBeLessThan(100);
    expect(receiver.received).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(receiver.received).toEqual([]);
    await receiver.up();
    const received = await receiver.waitFor(200);
    expect(numbers(received)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await stream.close();
    expect(await count('sent')).toBe(200);
    // The outage is logged once (not once per attempt), and so is the recovery.
    const warnings = entries().filter((e) => String(e.msg).startsWith('audit webhook cannot deliver'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ sink: 'webhook', error: 'ECONNREFUSED' });
    expect(entries().filter((e) => e.msg === 'audit webhook delivers again')).toHaveLength(1);
  }, 20_000);

  it('tries again on 5xx, 429, 408 and a timeout; a 4xx drops that event only, logged once a run with its status', async () => {
    const answers: Record<number, number[] | 'hang-once'> = {
      2: [503, 200],
      3: [400],
      4: [429, 408, 200],
      5: 'hang-once',
      6: [404],
      7: [403],
      8: [403],
    };
    const answer: Answer = (e, attempt) => {
      const planned = answers[Number(e.payload?.n)];
      if (planned === 'hang-once') return attempt === 1 ? 'hang' : 200;
      return planned?.[attempt - 1] ?? 200;
    };
    const receiver = await new Receiver(SECRET, answer).up();
    const { stream, entries, count } = await webhookStream(receiver, {
      webhook: { firstBackoffMs: 20, attemptTimeoutMs: 300 },
    });
    for (let n = 1; n <= 9; n++) stream.record(event(n));
    stream.flush();
    const delivered = await receiver.waitFor(5);
    expect(numbers(delivered)).toEqual([1, 2, 4, 5, 9]);
    expect(receiver.received.map((r) => [r.event.payload?.n, r.status])).toEqual([
      [1, 200],
      [2, 503],
      [2, 200],
      [3, 400],
      [4, 429],
      [4, 408],
      [4, 200],
      [5, 200],
      [6, 404],
      [7, 403],
      [8, 403],
      [9, 200],
    ]);
    await stream.close();
    expect(await count('sent')).toBe(5);
    expect(await count('failed')).toBe(4);
    // Each run of refusals is logged once, with the first one's status, and counted when a delivery ends it.
    const refusals = entries().filter((e) => String(e.msg).startsWith('audit webhook refused an event'));
    expect(refusals.map((e) => e.error)).toEqual(['HTTP 400', 'HTTP 404']);
    expect(
      entries()
        .filter((e) => e.msg === 'audit webhook delivers again')
        .at(-1),
    ).toMatchObject({ refused: 3 });
  });

  it('holds at most max_pending events while it cannot deliver: the oldest are dropped and counted', async () => {
    const receiver = await new Receiver(SECRET).up();
    await receiver.down();
    const { stream, count, dropped, registry } = await webhookStream(receiver, {
      buffer: { capacity: 2, max_pending: 3 },
      webhook: { firstBackoffMs: 50 },
      maxBackoff: '100ms',
    });
    for (let n = 1; n <= 10; n++) stream.record(event(n));
    expect(await dropped('buffer_full')).toBe(7);
    expect(await metricValue(registry, 'portcullis_audit_pending_events', { sink: 'webhook' })).toBe(3);
    await receiver.up();
    expect(numbers(await receiver.waitFor(3))).toEqual([8, 9, 10]);
    await stream.close();
    expect(await count('sent')).toBe(3);
    expect(await count('dropped')).toBe(7);
    expect(await metricValue(registry, 'portcullis_audit_pending_events', { sink: 'webhook' })).toBe(0);
  });

  it('never logs the signing secret, the body or the URL’s path and query', async () => {
    const answer: Answer = (e, attempt) =>
      e.payload?.n === 1 && attempt === 1 ? 500 : e.payload?.n === 2 ? 401 : 200;
    const receiver = await new Receiver(SECRET, answer).up();
    const { stream, lines } = await webhookStream(receiver, { webhook: { firstBackoffMs: 20 } });
    for (let n = 1; n <= 3; n++) stream.record(event(n));
    stream.flush();
    await receiver.waitFor(2);
    await receiver.down();
    stream.record(event(4));
    await stream.close(300);
    const text = lines.join('\n');
    // Something was logged: the retry, the refusal, the recovery and the close.
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const hidden of [SECRET, 'query-credential', '/hooks/audit', 'ada@example.com', 'déjà']) {
      expect(text).not.toContain(hidden);
    }
    expect(text).toContain(receiver.url.slice(0, receiver.url.indexOf('/hooks')));
  });

  it('closes within its deadline while the receiver is down, counting what is left as dropped (closed)', async () => {
    const receiver = await new Receiver(SECRET).up();
    await receiver.down();
    const { stream, entries, dropped } = await webhookStream(receiver);
    for (let n = 1; n <= 5; n++) stream.record(event(n));
    const started = performance.now();
    const closing = stream.close(400);
    expect(stream.close(50)).toBe(closing);
    await closing;
    expect(performance.now() - started).toBeLessThan(1500);
    expect(await dropped('closed')).toBe(5);
    expect(entries().find((e) => String(e.msg).startsWith('audit stream closed'))).toMatchObject({
      level: 'warn',
      undelivered: { webhook: 5 },
    });
    // Recorded after close: dropped (closed) at once.
    stream.record(event(6));
    expect(await dropped('closed')).toBe(6);
    // The lead's rate limit counts through the stream.
    stream.rateLimited(4);
    expect(await dropped('rate_limited')).toBe(4);
  });

  it('on close, tries a waiting event again at once rather than after its backoff', async () => {
    const receiver = await new Receiver(SECRET).up();
    await receiver.down();
    const { stream, count } = await webhookStream(receiver);
    stream.record(event(1));
    stream.flush();
    // Attempts at 0 s and 1 s fail; the next is due at 3 s.
    await new Promise((resolve) => setTimeout(resolve, 1300));
    await receiver.up();
    const started = performance.now();
    await stream.close();
    expect(performance.now() - started).toBeLessThan(800);
    expect(numbers(receiver.delivered)).toEqual([1]);
    expect(await count('sent')).toBe(1);
  });

  it('delivers what is pending at close when the receiver answers before the deadline', async () => {
    const receiver = await new Receiver(SECRET).up();
    const { stream, count, dropped } = await webhookStream(receiver, { flushPeriodMs: 60_000 });
    stream.record(event(1));
    // One event is less than a batch: it waits for the flush period, and close hands it over.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toEqual([]);
    await stream.close();
    expect(numbers(receiver.delivered)).toEqual([1]);
    expect(await count('sent')).toBe(1);
    expect(await dropped('closed')).toBe(0);
  });
});
