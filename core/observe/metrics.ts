import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MethodMetrics } from '../plugins/contracts.ts';

/** A plugin's metric name: lower-case snake case, as Prometheus names go. */
const PLUGIN_METRIC_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** A label name (Prometheus's rule, lower case, not `plugin`, which portcullis sets). */
const LABEL_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
/** How many label sets one plugin metric may have: past it, new ones are dropped (and said once), not counted. */
const MAX_LABEL_SETS = 1000;

/** A plugin's metric: the prom-client metric, its label names (joined) and the label sets seen. */
interface PluginMetric<M> {
  readonly metric: M;
  readonly labels: string;
  readonly sets: Set<string>;
}

/** What a decision came to, as the decision log names it. */
export type DecisionOutcome = 'authenticated' | 'unauthenticated' | 'forbidden' | 'error';

/** Where a login got to: begun (a redirect to an IdP, a form shown), a session made, or refused. */
export type LoginOutcome = 'started' | 'succeeded' | 'refused';

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
  readonly #logins: Counter<'method' | 'provider' | 'outcome' | 'reason'>;

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
    this.#logins = new Counter({
      name: 'portcullis_logins_total',
      help: 'Logins, by method, provider ("" when the method has none), outcome (started, succeeded, refused) and reason id ("" unless refused)',
      labelNames: ['method', 'provider', 'outcome', 'reason'],
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

  /**
   * Counts one step of a login: `started` (a redirect to the IdP, a form shown), `succeeded` (a session made) or
   * `refused`. `provider` is the configured provider's key (`""` for a method without providers); `reason` the
   * refusal's stable snake_case id, `""` unless refused. Both are bounded by configuration and code, never a user's.
   */
  login(method: string, provider: string, outcome: LoginOutcome, reason: string): void {
    this.#logins.inc({ method, provider, outcome, reason: outcome === 'refused' ? reason : '' });
  }

  readonly #pluginCounters = new Map<
    string,
    { metric: Counter<string>; labels: string; sets: Set<string> }
  >();
  readonly #pluginHistograms = new Map<
    string,
    { metric: Histogram<string>; labels: string; sets: Set<string> }
  >();

  /**
   * `ctx.metrics` for the method plugin `plugin`: `increment(name, labels)` counts into
   * `portcullis_plugin_<name>_total`, `observe(name, value, labels)` into the histogram `portcullis_plugin_<name>`
   * (prom-client's default buckets), each with the label `plugin` added. A metric keeps the label names of its first
   * use; a metric may have at most 1000 label sets (the rest are dropped and logged once), so that a value a caller
   * controls cannot grow the exposition without bound.
   *
   * @throws PortcullisError `ERR_PLUGIN_FAILED` for a name or label name that is not lower-case snake case (a label
   *   named `plugin` included), or label names other than the metric's first use's
   */
  forPlugin(plugin: string, log: Logger): MethodMetrics {
    const fail = (message: string): never => {
      throw new PortcullisError(ErrorCodes.PLUGIN_FAILED, `plugin "${plugin}": ctx.metrics: ${message}`);
    };
    const warned = new Set<string>();
    const labelsOf = (name: string, labels: Readonly<Record<string, string>>) => {
      if (!PLUGIN_METRIC_NAME.test(name))
        fail(`metric name ${JSON.stringify(name)} is not lower-case snake case`);
      const names = Object.keys(labels).sort();
      for (const label of names) {
        if (!LABEL_NAME.test(label) || label === 'plugin')
          fail(
            `label ${JSON.stringify(label)} of ${name} is not a lower-case label name other than "plugin"`,
          );
      }
      return names;
    };
    const admit = (
      entry: { labels: string; sets: Set<string> },
      name: string,
      names: readonly string[],
      values: Record<string, string>,
    ) => {
      if (entry.labels !== names.join(','))
        fail(`${name} has the labels [${entry.labels}], not [${names.join(',')}]`);
      const set = JSON.stringify(values);
      if (entry.sets.has(set)) return true;
      if (entry.sets.size >= MAX_LABEL_SETS) {
        if (!warned.has(name))
          log.warn({ plugin, metric: name }, 'plugin metric has too many label sets: new ones are dropped');
        warned.add(name);
        return false;
      }
      entry.sets.add(set);
      return true;
    };
    /** The entry of `name` in `own`, created with `create` on first use (a name is a counter or a histogram). */
    const entryOf = <M>(
      own: Map<string, PluginMetric<M>>,
      other: Map<string, unknown>,
      name: string,
      names: readonly string[],
      create: (labelNames: string[]) => M,
    ): PluginMetric<M> => {
      let entry = own.get(name);
      if (entry === undefined) {
        if (other.has(name)) fail(`${name} is already a metric of the other kind (a counter or a histogram)`);
        entry = { metric: create(['plugin', ...names]), labels: names.join(','), sets: new Set() };
        own.set(name, entry);
      }
      return entry;
    };
    return {
      increment: (name, labels = {}) => {
        const names = labelsOf(name, labels);
        const entry = entryOf(
          this.#pluginCounters,
          this.#pluginHistograms,
          name,
          names,
          (labelNames) =>
            new Counter({
              name: `portcullis_plugin_${name}_total`,
              help: `A plugin's counter: ${name}`,
              labelNames,
              registers: [this.registry],
            }),
        );
        const values = { plugin, ...labels };
        if (admit(entry, name, names, values)) entry.metric.inc(values);
      },
      observe: (name, value, labels = {}) => {
        const names = labelsOf(name, labels);
        const entry = entryOf(
          this.#pluginHistograms,
          this.#pluginCounters,
          name,
          names,
          (labelNames) =>
            new Histogram({
              name: `portcullis_plugin_${name}`,
              help: `A plugin's histogram: ${name}`,
              labelNames,
              registers: [this.registry],
            }),
        );
        const values = { plugin, ...labels };
        if (admit(entry, name, names, values)) entry.metric.observe(values, value);
      },
    };
  }

  /** The exposition: Prometheus text format 0.0.4 and its content type. */
  async exposition(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
