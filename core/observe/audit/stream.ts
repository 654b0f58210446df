import type { Registry } from 'prom-client';
import type { AuditConfig } from '../../config/types.ts';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { stampEvent } from './event.ts';
import { type EventFilter, parseEventFilters } from './filters.ts';
import { LogSink } from './log-sink.ts';
import { AuditMetrics, type DropCause } from './metrics.ts';
import type { AuditRecord, AuditRecorder } from './record.ts';
import type { PendingEvent, QueuedSink } from './sink.ts';
import { WebhookSink, type WebhookTiming } from './webhook-sink.ts';

/** What a stream uses of its runtime. */
export interface AuditStreamDeps {
  readonly log: Logger;
  /** The runtime's `metrics.registry`; metrics a stream before this one registered are reused. */
  readonly registry: Registry;
}

/** Knobs for tests: shorter waits than a configuration may hold. */
export interface AuditStreamOptions {
  /** Hands a batch over after this long instead of `buffer.flush_period`. */
  readonly flushPeriodMs?: number;
  readonly webhook?: WebhookTiming;
  /** The clock events are stamped with. */
  readonly now?: () => Date;
}

/** Whether `audit` enables a sink portcullis has (Kafka is refused by validation). */
export function auditEnabled(config: AuditConfig): boolean {
  return config.sinks.log.enabled || config.sinks.webhook.enabled;
}

/**
 * The audit stream of a runtime, built from a validated `audit` section (the webhook's `signing_secret`
 * resolved). `record` stamps each event Flipt's way and adds it to a batch, which is handed to every enabled sink
 * when it holds `buffer.capacity` events or `buffer.flush_period` after its first; each sink then delivers on its
 * own, holding at most `buffer.max_pending` events (past that the oldest are dropped and counted).
 */
export class AuditStream implements AuditRecorder {
  readonly #log: Logger;
  readonly #metrics: AuditMetrics;
  readonly #filter: EventFilter;
  readonly #sinks: readonly QueuedSink[];
  readonly #capacity: number;
  readonly #flushPeriodMs: number;
  readonly #now: () => Date;
  #batch: PendingEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /** Records that could not be made into JSON (a plugin's payload with a BigInt, say): the first is logged. */
  #unserialisable = 0;

  constructor(config: AuditConfig, deps: AuditStreamDeps, options: AuditStreamOptions = {}) {
    this.#log = deps.log;
    this.#filter = parseEventFilters(config.events).filter;
    this.#capacity = config.buffer.capacity;
    this.#flushPeriodMs = options.flushPeriodMs ?? config.buffer.flush_period;
    this.#now = options.now ?? (() => new Date());
    const { log: logSink, webhook } = config.sinks;
    const names = [
      ...(logSink.enabled ? (['log'] as const) : []),
      ...(webhook.enabled ? (['webhook'] as const) : []),
    ];
    this.#metrics = new AuditMetrics(deps.registry, names);
    const context = { log: deps.log, metrics: this.#metrics, maxPending: config.buffer.max_pending };
    this.#sinks = [
      ...(logSink.enabled ? [new LogSink(logSink, context)] : []),
      ...(webhook.enabled ? [new WebhookSink(webhook, context, options.webhook)] : []),
    ];
  }

  /** Whether any sink is enabled: without one, nothing is ever recorded. */
  get enabled(): boolean {
    return this.#sinks.length > 0;
  }

  wants(type: string, action: string): boolean {
    return this.#sinks.length > 0 && this.#filter.matches(type, action);
  }

  /**
   * Stamps the record (Flipt's `version` and `timestamp`) and adds it to the batch, handing the batch to the
   * sinks when it is full. Synchronous, never waits, never throws. After `close`, counted as dropped (`closed`).
   */
  record(record: AuditRecord): void {
    try {
      if (!this.wants(record.type, record.action)) return;
      if (this.#closing !== undefined) {
        this.droppedUnsent('closed');
        return;
      }
      this.#batch.push({ json: JSON.stringify(stampEvent(record, this.#now())) });
      if (this.#batch.length >= this.#capacity) this.flush();
      else if (this.#timer === undefined) {
        this.#timer = setTimeout(() => this.flush(), this.#flushPeriodMs);
        this.#timer.unref();
      }
    } catch (error) {
      if (this.#unserialisable === 0) {
        this.#log.error(
          { type: String(record?.type), action: String(record?.action), error: errorMessage(error) },
          'audit event cannot be recorded (further ones are not logged)',
        );
      }
      this.#unserialisable += 1;
    }
  }

  /** Counts `count` records not made because they were over a rate (`cause="rate_limited"`, each enabled sink). */
  rateLimited(count: number): void {
    this.droppedUnsent('rate_limited', count);
  }

  /** Counts `count` events of every enabled sink as dropped for `cause` without their reaching the stream. */
  droppedUnsent(cause: DropCause, count = 1): void {
    if (!(count > 0)) return;
    for (const sink of this.#sinks) this.#metrics.dropped(sink.name, cause, count);
  }

  /** Hands the batch to every sink now, whatever its size. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    for (const sink of this.#sinks) sink.accept(batch);
  }

  /**
   * Hands the batch over, waits for the sinks to deliver what they hold up to `timeoutMs` (a webhook that is down
   * does not hold shutdown longer), then drops what is left, counted (`closed`) and logged. Idempotent.
   */
  close(timeoutMs = 5000): Promise<void> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.flush();
    for (const sink of this.#sinks) sink.closing();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(this.#sinks.map((sink) => sink.idle())), deadline]);
    clearTimeout(timer);
    const left = await Promise.all(this.#sinks.map(async (sink) => [sink.name, await sink.stop()] as const));
    const undelivered = Object.fromEntries(left.filter(([, count]) => count > 0));
    if (Object.keys(undelivered).length > 0) {
      this.#log.warn({ undelivered }, 'audit stream closed with events undelivered (dropped)');
    } else if (this.#sinks.length > 0) {
      this.#log.debug('audit stream closed; every event delivered');
    }
  }
}
