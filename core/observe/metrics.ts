import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** What a decision came to, as the decision log names it. */
export type DecisionOutcome = 'authenticated' | 'unauthenticated' | 'forbidden' | 'error';

/**
 * Decision latency buckets, in seconds: a cached credential decides in microseconds, a first-seen JWT or a Redis
 * lookup in a millisecond or so, a method that calls out (a JWKS fetch, Kubernetes' TokenReview) in up to seconds.
 */
const DECISION_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/**
 * portcullis's Prometheus metrics (prom-client), with Node's default process metrics, in one registry: one per
 * `portcullis serve` (kept across reloads, so counters do not restart) or per embedded runtime. Every label value
 * is bounded: a method's name (`METHOD_TOKEN`, ...), an outcome, a stable snake_case reason id — never a
 * credential, an email or a path.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #decisions: Counter<'method' | 'outcome' | 'reason'>;
  readonly #decisionSeconds: Histogram<'outcome'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.#decisions = new Counter({
      name: 'portcullis_authentication_decisions_total',
      help: 'Authentication decisions, by method (of an accepted credential; "none" otherwise), outcome and reason id',
      labelNames: ['method', 'outcome', 'reason'],
      registers: [this.registry],
    });
    this.#decisionSeconds = new Histogram({
      name: 'portcullis_authentication_decision_seconds',
      help: 'Time to decide on a request’s credential, in seconds, by outcome',
      labelNames: ['outcome'],
      buckets: DECISION_BUCKETS_S,
      registers: [this.registry],
    });
  }

  /**
   * Counts one decision. `durationMs` (milliseconds) is observed when the pipeline was asked (not for a refusal
   * made before it, such as a cross-origin one). `reason` is the refusal's stable id; `""` when accepted.
   */
  decision(outcome: DecisionOutcome, method: string, reason: string, durationMs?: number): void {
    this.#decisions.inc({ method, outcome, reason });
    if (durationMs !== undefined) this.#decisionSeconds.observe({ outcome }, durationMs / 1000);
  }

  /** The exposition: Prometheus text format 0.0.4 and its content type. */
  async exposition(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
