import type { Logger } from '../../log.ts';
import type { AuditMetrics, SinkName } from './metrics.ts';
import { PendingQueue } from './pending.ts';

/** One event as the sinks hold it: its JSON, made once (every sink sends or writes exactly these bytes). */
export interface PendingEvent {
  readonly json: string;
}

/** What the stream gives each sink. */
export interface SinkContext {
  readonly log: Logger;
  readonly metrics: AuditMetrics;
  /** `audit.buffer.max_pending`. */
  readonly maxPending: number;
}

/**
 * What every sink shares: its own queue of pending events, bounded by `max_pending` (full: the oldest is dropped
 * and counted), a delivery loop started off the caller's stack when events arrive (so that handing a batch over
 * never waits on a sink, and one sink's trouble never holds another), and a stop with a count of what is left.
 */
export abstract class QueuedSink {
  readonly name: SinkName;
  protected readonly log: Logger;
  /** Aborted when the sink stops: an attempt in flight, or a wait between two, is given up. */
  protected readonly stopping = new AbortController();
  readonly #queue: PendingQueue<PendingEvent>;
  readonly #metrics: AuditMetrics;
  #loop: Promise<void> | undefined;
  #scheduled = false;

  protected constructor(name: SinkName, context: SinkContext) {
    this.name = name;
    this.log = context.log;
    this.#metrics = context.metrics;
    this.#queue = new PendingQueue(context.maxPending);
  }

  /** Delivers pending events, oldest first, until none is left or the sink stops. */
  protected abstract drain(): Promise<void>;

  /** Whether the sink has stopped: whatever it still holds is dropped. */
  protected get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** The oldest pending event, left in the queue (it stays pending, and droppable, until removed). */
  protected oldest(): PendingEvent | undefined {
    return this.#queue.peek();
  }

  /** Takes up to `count` of the oldest pending events out of the queue. */
  protected takeOldest(count: number): PendingEvent[] {
    const events = this.#queue.take(count);
    this.#metrics.pending(this.name, -events.length);
    return events;
  }

  /** Counts `count` events taken out as delivered (`sent`) or refused for good (`failed`). */
  protected settle(outcome: 'sent' | 'failed', count: number): void {
    if (outcome === 'sent') this.#metrics.sent(this.name, count);
    else this.#metrics.failed(this.name, count);
  }

  /** Queues `events` (in O(1) each) and makes sure the delivery loop will run. Never waits, never throws. */
  accept(events: readonly PendingEvent[]): void {
    if (this.stopped) {
      this.#metrics.dropped(this.name, 'closed', events.length);
      return;
    }
    for (const event of events) {
      if (this.#queue.push(event) === undefined) this.#metrics.pending(this.name, 1);
      else this.#metrics.dropped(this.name, 'buffer_full');
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#loop !== undefined || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#loop = this.drain()
        .catch((error: unknown) => this.log.error({ sink: this.name, err: error }, 'audit sink failed'))
        .finally(() => {
          this.#loop = undefined;
          if (this.#queue.size > 0 && !this.stopped) this.#schedule();
        });
    }).unref();
  }

  /** Resolves when nothing is pending any more (or the sink has stopped). */
  async idle(): Promise<void> {
    while (!this.stopped && (this.#scheduled || this.#loop !== undefined || this.#queue.size > 0)) {
      await (this.#loop ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  /** Called when the stream starts closing, before the deadline: a sink may cut a wait short. */
  closing(): void {}

  /**
   * Stops the sink: what is in flight is given up, and what is still pending is dropped and counted (`closed`).
   * Returns how many were dropped. Then releases what the sink holds open.
   */
  async stop(): Promise<number> {
    this.stopping.abort();
    const left = this.#queue.size;
    this.#queue.take(left);
    if (left > 0) {
      this.#metrics.pending(this.name, -left);
      this.#metrics.dropped(this.name, 'closed', left);
    }
    await this.#loop;
    await this.release();
    return left;
  }

  /** Releases what the sink holds open (a file), after its loop has ended. */
  protected async release(): Promise<void> {}
}
