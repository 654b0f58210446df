import type { Counter, Gauge, Registry } from 'prom-client';
import { promClient } from '../prom-client.ts';

// prom-client's classes are not imported: this module loads with every runtime, audited or not (prom-client.ts).

/** The sinks portcullis has: the label values of every audit metric. */
export type SinkName = 'log' | 'webhook';

/** Why an event was dropped before a sink delivered it. */
export type DropCause =
  /** The sink's pending queue (`audit.buffer.max_pending`) was full; the oldest event made room. */
  | 'buffer_full'
  /** The stream closed (shutdown, reload) before the sink could deliver it. */
  | 'closed'
  /** Refused before it reached the stream, as a flood of refusals is (counted by the caller). */
  | 'rate_limited';

/** A counter of `registry` by name, registered on first use: one registry outlives the streams built on it. */
function sharedCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  return (
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new (promClient().Counter)({ name, help, labelNames, registers: [registry] })
  );
}

/**
 * The audit stream's counters, on the runtime's registry (reused when a stream before this one registered them).
 * Each event a sink is handed is counted once, as it ends: sent, failed or dropped.
 */
export class AuditMetrics {
  readonly #events: Counter<'sink' | 'outcome'>;
  readonly #dropped: Counter<'sink' | 'cause'>;
  readonly #pending: Gauge<'sink'>;

  constructor(registry: Registry, sinks: readonly SinkName[]) {
    this.#events = sharedCounter(
      registry,
      'portcullis_audit_events_total',
      'Audit events by sink and outcome: sent, failed (refused for good by the sink) or dropped (undelivered)',
      ['sink', 'outcome'],
    );
    this.#dropped = sharedCounter(
      registry,
      'portcullis_audit_events_dropped_total',
      'Audit events dropped undelivered, by sink and cause: buffer_full (max_pending), closed, rate_limited',
      ['sink', 'cause'],
    );
    const pending = 'portcullis_audit_pending_events';
    this.#pending =
      (registry.getSingleMetric(pending) as Gauge<'sink'> | undefined) ??
      new (promClient().Gauge)({
        name: pending,
        help: 'Audit events a sink holds, not yet delivered',
        labelNames: ['sink'],
        registers: [registry],
      });
    // Every series of an enabled sink is there from the start, at 0, for rates and alerts.
    for (const sink of sinks) {
      for (const outcome of ['sent', 'failed', 'dropped']) this.#events.inc({ sink, outcome }, 0);
      for (const cause of ['buffer_full', 'closed', 'rate_limited']) this.#dropped.inc({ sink, cause }, 0);
      this.#pending.inc({ sink }, 0);
    }
  }

  sent(sink: SinkName, count = 1): void {
    this.#events.inc({ sink, outcome: 'sent' }, count);
  }

  failed(sink: SinkName, count = 1): void {
    this.#events.inc({ sink, outcome: 'failed' }, count);
  }

  dropped(sink: SinkName, cause: DropCause, count = 1): void {
    this.#events.inc({ sink, outcome: 'dropped' }, count);
    this.#dropped.inc({ sink, cause }, count);
  }

  /** `delta` more (or, negative, fewer) events pending at `sink`. */
  pending(sink: SinkName, delta: number): void {
    if (delta >= 0) this.#pending.inc({ sink }, delta);
    else this.#pending.dec({ sink }, -delta);
  }
}
