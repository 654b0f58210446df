import { STATUS_CODES } from 'node:http';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MethodMetrics } from '../plugins/contracts.ts';
import { promClient } from './prom-client.ts';
import {
  CounterFamily,
  type CounterSeries,
  HistogramFamily,
  type HistogramSeries,
  type Labels,
  MergedFamily,
  register,
} from './series.ts';

/** A plugin's metric name: lower-case snake case, as Prometheus names go. */
const PLUGIN_METRIC_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** A label name (Prometheus's rule, lower case, not `plugin`, which portcullis sets). */
const LABEL_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
/** How many label sets one plugin metric may have: past it, new ones are dropped (and said once), not counted. */
const MAX_LABEL_SETS = 1000;

/** One plugin's use of a metric name: its label names (joined) and its series. */
interface PluginMetric {
  readonly labels: string;
  readonly family: CounterFamily<string> | HistogramFamily<string>;
}

/** prom-client's default buckets (seconds), for plugins' histograms. */
const PLUGIN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

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

/** Calls that leave the process (a secret store, an IdP, an upstream): a millisecond to the timeouts' tens of seconds. */
const REMOTE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** prom-client's default event-loop-delay precision (`eventLoopMonitoringPrecision`), milliseconds. */
const LOOP_DELAY_RESOLUTION_MS = 10;
/**
 * The gauges prom-client's default metrics read from their event-loop-delay monitor, and what each reads (ns).
 * The monitor is portcullis's, running from the moment the metrics are made: prom-client's own starts with the
 * registry, which is made on first use, and a registry scraped as soon as it is made would read an empty monitor
 * (a minimum of 9.2e9 s, a mean of NaN).
 */
const LOOP_DELAY_GAUGES: ReadonlyArray<readonly [string, (delay: IntervalHistogram) => number]> = [
  ['nodejs_eventloop_lag_min_seconds', (delay) => delay.min],
  ['nodejs_eventloop_lag_max_seconds', (delay) => delay.max],
  ['nodejs_eventloop_lag_mean_seconds', (delay) => delay.mean],
  ['nodejs_eventloop_lag_stddev_seconds', (delay) => delay.stddev],
  ['nodejs_eventloop_lag_p50_seconds', (delay) => delay.percentile(50)],
  ['nodejs_eventloop_lag_p90_seconds', (delay) => delay.percentile(90)],
  ['nodejs_eventloop_lag_p99_seconds', (delay) => delay.percentile(99)],
];

/** Past this many distinct hosts one plugin calls, its other hosts are counted as `other`. */
export const MAX_OUTBOUND_HOSTS = 100;

/** Records one operation: whether it succeeded, and how long it took (seconds). */
export type OperationRecorder = (ok: boolean, seconds: number) => void;

/** How a plugin's outbound request ended: the response's status class, a failure, or its time limit. */
export type OutboundOutcome = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'error' | 'timeout';

/** Records one outbound request of a plugin: the URL's `host:port`, how it ended, and the time to its response head. */
export type OutboundRecorder = (host: string, outcome: OutboundOutcome, seconds: number) => void;

/** What a proxied request was. */
export type ProxyKind = 'http' | 'websocket' | 'grpc';

/**
 * Records one proxied request: the upstream's status (an HTTP status code, a gRPC status name, or `error` when the
 * upstream could not be reached), and the time to the upstream's response head when it answered.
 */
export type ProxyRecorder = (status: number | string, seconds?: number) => void;

/** The store operation metrics, as the store decorator uses them. */
export interface StoreMetrics {
  storeOperation(store: string, operation: string): OperationRecorder;
}

/** The secret store metrics, as reference resolution and the refresh use them. */
export interface SecretMetrics {
  secretFetch(provider: string): OperationRecorder;
  secretRefresh(outcome: SecretRefreshOutcome): void;
}

/** What one refresh round came to: every value as it was, some changed, or some fetch failed. */
export type SecretRefreshOutcome = 'unchanged' | 'changed' | 'failed';

/** The outbound recorder behind each `ctx.metrics` that {@link Metrics.forPlugin} made (see {@link outboundOf}). */
const outboundRecorders = new WeakMap<MethodMetrics, OutboundRecorder>();

/**
 * The recorder of the outbound requests of the plugin `metrics` (its `ctx.metrics`) was made for, for the `fetch`
 * of its context; `undefined` for metrics not made by {@link Metrics.forPlugin}. Kept off `ctx.metrics` itself, so
 * that a plugin cannot count into portcullis's own metrics.
 */
export function outboundOf(metrics: MethodMetrics | undefined): OutboundRecorder | undefined {
  return metrics === undefined ? undefined : outboundRecorders.get(metrics);
}

/** `get(key)` of `map`, made with `make` and kept on first use. */
function cached<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** Counts into `counter` (`outcome` ok or error) and times into `histogram`, both with `labels`, bound once. */
function operationRecorder<L extends string>(
  counter: CounterFamily<L | 'outcome'>,
  histogram: HistogramFamily<L>,
  labels: Labels<L>,
): OperationRecorder {
  const ok = counter.labels({ ...labels, outcome: 'ok' } as Labels<L | 'outcome'>);
  const error = counter.labels({ ...labels, outcome: 'error' } as Labels<L | 'outcome'>);
  const seconds = histogram.labels(labels);
  return (succeeded, elapsed) => {
    (succeeded ? ok : error).inc();
    seconds.observe(elapsed);
  };
}

/**
 * portcullis's Prometheus metrics (prom-client), with Node's default process metrics, in one registry: one per
 * `portcullis serve` (kept across reloads, so counters do not restart) or per embedded runtime. Every label value
 * is bounded: a method's name (`METHOD_TOKEN`, ...), an outcome, a stable snake_case reason id — never a
 * credential, an email or a path.
 *
 * The request path counts in plain numbers (series.ts) from the start; prom-client and its registry are made on
 * first use — the first scrape, or the first read of {@link Metrics.registry} — so that start-up does not load it.
 * Node's default metrics (`process_*`, `nodejs_*`) are collected from then: garbage collections before it are not
 * in `nodejs_gc_duration_seconds`.
 */
export class Metrics {
  #registry: Registry | undefined;
  /** portcullis's own families, registered in this order when the registry is made. */
  readonly #own: Array<CounterFamily<string> | HistogramFamily<string>> = [];
  /** The plugins' metrics made before the registry, registered after Node's defaults when it is made. */
  readonly #pluginFamilies: MergedFamily[] = [];
  readonly #decisions = this.#counter(
    'portcullis_authentication_decisions_total',
    'Authentication decisions, by method (of an accepted credential; "none" otherwise), outcome and reason id',
    ['method', 'outcome', 'reason'],
  );
  readonly #decisionSeconds = this.#histogram(
    'portcullis_authentication_decision_seconds',
    'Time to decide on a request’s credential, in seconds, by outcome',
    ['outcome'],
    DECISION_BUCKETS_S,
  );
  readonly #logins = this.#counter(
    'portcullis_logins_total',
    'Logins, by method, provider ("" when the method has none), outcome (started, succeeded, refused) and reason id ("" unless refused)',
    ['method', 'provider', 'outcome', 'reason'],
  );
  readonly #storeOperations = this.#counter(
    'portcullis_store_operations_total',
    'Authentication store operations, by store (memory, redis), operation (the store method) and outcome (ok, error)',
    ['store', 'operation', 'outcome'],
  );
  readonly #storeSeconds = this.#histogram(
    'portcullis_store_operation_seconds',
    'Time an authentication store operation took, in seconds, by store and operation',
    ['store', 'operation'],
    DECISION_BUCKETS_S,
  );
  readonly #secretFetches = this.#counter(
    'portcullis_secret_fetches_total',
    'Fetches of a secret from a secret store, by provider and outcome (ok, error)',
    ['provider', 'outcome'],
  );
  readonly #secretSeconds = this.#histogram(
    'portcullis_secret_fetch_seconds',
    'Time a fetch from a secret store took, in seconds, by provider',
    ['provider'],
    REMOTE_BUCKETS_S,
  );
  readonly #secretRefreshes = this.#counter(
    'portcullis_secret_refreshes_total',
    'Refresh rounds of the secret references (secrets.refresh_interval, or a watched store), by outcome (unchanged, changed, failed)',
    ['outcome'],
  );
  readonly #outbound = this.#counter(
    'portcullis_outbound_requests_total',
    'Requests a plugin made (IdP, JWKS, GitHub, TokenReview), by plugin, host:port ("other" past 100 a plugin) and outcome (status class 2xx..5xx, error, timeout)',
    ['plugin', 'host', 'outcome'],
  );
  readonly #outboundSeconds = this.#histogram(
    'portcullis_outbound_request_seconds',
    'Time to the response head of a plugin’s request, in seconds, by plugin and host:port',
    ['plugin', 'host'],
    REMOTE_BUCKETS_S,
  );
  readonly #proxied = this.#counter(
    'portcullis_proxy_requests_total',
    'Requests proxied to gateway.upstream, by kind (http, websocket, grpc) and upstream status (HTTP status code, gRPC status name, or error when the upstream gave none)',
    ['kind', 'status'],
  );
  readonly #proxySeconds = this.#histogram(
    'portcullis_proxy_upstream_seconds',
    'Time to the upstream’s response head, in seconds, by kind',
    ['kind'],
    REMOTE_BUCKETS_S,
  );
  /** Each recorder, made once per label set: counting builds no label objects. */
  readonly #storeRecorders = new Map<string, OperationRecorder>();
  readonly #secretRecorders = new Map<string, OperationRecorder>();
  readonly #outboundRecorders = new Map<string, OutboundRecorder>();
  readonly #proxyRecorders = new Map<ProxyKind, ProxyRecorder>();

  /** A counter of this registry, counted in plain numbers (see series.ts). */
  #counter<L extends string>(name: string, help: string, labelNames: L[]): CounterFamily<L> {
    const family = new CounterFamily({ name, help, labelNames });
    this.#own.push(family);
    return family;
  }

  /** A histogram of this registry, counted in plain numbers (see series.ts). */
  #histogram<L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    buckets: number[],
  ): HistogramFamily<L> {
    const family = new HistogramFamily({ name, help, labelNames, buckets });
    this.#own.push(family);
    return family;
  }

  /** The event loop's delay, sampled from the moment the metrics are made (see {@link LOOP_DELAY_GAUGES}). */
  readonly #loopDelay = (() => {
    const delay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    delay.enable();
    return delay;
  })();

  /**
   * Has prom-client's event-loop-delay gauges read {@link #loopDelay}: the first of them, collected after
   * prom-client has set them from its own monitor, sets all of them (seconds) and starts a new interval, as
   * prom-client does with its own at each scrape. They stay where prom-client registered them.
   */
  #readLoopDelay(registry: Registry): void {
    const [first] = LOOP_DELAY_GAUGES;
    const gauge = first === undefined ? undefined : registry.getSingleMetric(first[0]);
    // Not there (a runtime without perf_hooks' monitor, where prom-client registers none): nothing to read.
    if (gauge === undefined) return;
    (gauge as unknown as { collect: () => void }).collect = () => {
      // No sample yet (scraped within the monitor's first 10 ms): 0, not an empty monitor's 2^63 ns and NaN.
      const sampled = this.#loopDelay.count > 0;
      for (const [name, read] of LOOP_DELAY_GAUGES) {
        (registry.getSingleMetric(name) as unknown as { set(value: number): void } | undefined)?.set(
          sampled ? read(this.#loopDelay) / 1e9 : 0,
        );
      }
      this.#loopDelay.reset();
    };
  }

  /**
   * The prom-client registry every metric is in, Node's defaults included (made, and prom-client loaded, on first
   * use). An embedder may register its own metrics in it, or merge it into its own.
   */
  get registry(): Registry {
    if (this.#registry === undefined) {
      const { Registry, collectDefaultMetrics } = promClient();
      const registry = new Registry();
      // The order they were registered in when the registry was made first: the exposition reads the same.
      for (const family of this.#own) register(registry, family);
      collectDefaultMetrics({ register: registry });
      this.#readLoopDelay(registry);
      for (const family of this.#pluginFamilies) register(registry, family);
      this.#registry = registry;
    }
    return this.#registry;
  }

  /**
   * Counts one decision. `durationMs` (milliseconds) is observed when the pipeline was asked (not for a refusal
   * made before it, such as a cross-origin one). `reason` is the refusal's stable id; `""` when accepted.
   */
  decision(outcome: DecisionOutcome, method: string, reason: string, durationMs?: number): void {
    // Most decisions are like the one before (the same method admitting): its series are kept, and found again by
    // three comparisons rather than four map lookups. Series are never forgotten (a reset zeroes them), so a kept
    // one is the family's.
    let last = this.#lastDecision;
    if (last === undefined || last.outcome !== outcome || last.method !== method || last.reason !== reason) {
      // Label sets are bounded by the methods' names and reason ids, which are code's.
      last = {
        outcome,
        method,
        reason,
        count: this.#decisions.labels({ method, outcome, reason }),
        seconds: undefined,
      };
      this.#lastDecision = last;
    }
    last.count.inc();
    if (durationMs === undefined) return;
    // Made by the first timed decision of the outcome, not before: an outcome never timed (a cross-origin refusal)
    // has no histogram.
    last.seconds ??= this.#decisionSeconds.labels({ outcome });
    last.seconds.observe(durationMs / 1000);
  }

  /** The label values of the last {@link Metrics.decision} and its two series. */
  #lastDecision:
    | {
        readonly outcome: string;
        readonly method: string;
        readonly reason: string;
        readonly count: { inc(): void };
        seconds: { observe(value: number): void } | undefined;
      }
    | undefined;

  /**
   * Counts one step of a login: `started` (a redirect to the IdP, a form shown), `succeeded` (a session made) or
   * `refused`. `provider` is the configured provider's key (`""` for a method without providers); `reason` the
   * refusal's stable snake_case id, `""` unless refused. Both are bounded by configuration and code, never a user's.
   */
  login(method: string, provider: string, outcome: LoginOutcome, reason: string): void {
    this.#logins.labels({ method, provider, outcome, reason: outcome === 'refused' ? reason : '' }).inc();
  }

  /**
   * The recorder of the authentication store `store` (`memory`, `redis`)'s method `operation`: `ok` false counts an
   * `error`. Made once per store and operation.
   */
  storeOperation(store: string, operation: string): OperationRecorder {
    return cached(this.#storeRecorders, `${store}\n${operation}`, () =>
      operationRecorder(this.#storeOperations, this.#storeSeconds, { store, operation }),
    );
  }

  /** The recorder of the fetches from the secret store `provider` (a provider's configured key). */
  secretFetch(provider: string): OperationRecorder {
    return cached(this.#secretRecorders, provider, () =>
      operationRecorder(this.#secretFetches, this.#secretSeconds, { provider }),
    );
  }

  /** Counts one refresh round of the secret references. */
  secretRefresh(outcome: SecretRefreshOutcome): void {
    this.#secretRefreshes.labels({ outcome }).inc();
  }

  /**
   * The recorder of the outbound requests of the plugin `plugin`: by host, at most {@link MAX_OUTBOUND_HOSTS}
   * distinct hosts a plugin (across reloads), the others counted as `other`.
   */
  #outboundFor(plugin: string): OutboundRecorder {
    return cached(this.#outboundRecorders, plugin, () => {
      const hosts = new Set<string>();
      return (requested, outcome, elapsed) => {
        const host = hosts.has(requested) || hosts.size < MAX_OUTBOUND_HOSTS ? requested : 'other';
        hosts.add(host);
        this.#outbound.labels({ plugin, host, outcome }).inc();
        this.#outboundSeconds.labels({ plugin, host }).observe(elapsed);
      };
    });
  }

  /** The recorder of the requests proxied to the upstream of kind `kind`, with one child per status seen. */
  proxy(kind: ProxyKind): ProxyRecorder {
    return cached(this.#proxyRecorders, kind, () => {
      const statuses = new Map<number | string, CounterSeries>();
      const seconds = this.#proxySeconds.labels({ kind });
      return (status, elapsed) => {
        // An upstream may answer any code from 100 to 999: only the ones HTTP names are labels of their own.
        const label = typeof status === 'number' && STATUS_CODES[status] === undefined ? 'other' : status;
        cached(statuses, label, () => this.#proxied.labels({ kind, status: String(label) })).inc();
        if (elapsed !== undefined) seconds.observe(elapsed);
      };
    });
  }

  /** The plugins' metrics by exposition name: its kind, and each plugin's own series (its label names, bound). */
  readonly #pluginMetrics = new Map<
    string,
    {
      readonly kind: 'counter' | 'histogram';
      readonly merged: MergedFamily;
      readonly plugins: Map<string, PluginMetric>;
    }
  >();

  /**
   * `ctx.metrics` for the method plugin `plugin`: `increment(name, labels)` counts into
   * `portcullis_plugin_<name>_total`, `observe(name, value, labels)` into the histogram `portcullis_plugin_<name>`
   * (prom-client's default buckets), each with the label `plugin` added. Each plugin's use of a name is its own: it
   * keeps the label names of the plugin's first use, and may have at most 1000 label sets (the rest are dropped and
   * logged once), so that a value a caller controls cannot grow the exposition without bound, and one plugin can
   * neither break nor starve another's metric of the same name.
   *
   * @throws PortcullisError `ERR_PLUGIN_FAILED` for a name or label name that is not lower-case snake case (a label
   *   named `plugin` included), label names other than the plugin's first use's, or a name whose exposition name is
   *   another kind's (`increment('hits')` and `observe('hits_total', …)` would both be `portcullis_plugin_hits_total`)
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
    /** What each name is to this plugin: a counter or a histogram, as its first use made it. */
    const kinds = new Map<string, 'counter' | 'histogram'>();
    /** This plugin's series of `name` as a `kind`, made on first use. */
    const metricOf = (
      kind: 'counter' | 'histogram',
      name: string,
      names: readonly string[],
    ): PluginMetric => {
      const known = kinds.get(name);
      if (known !== undefined && known !== kind) fail(`${name} is already a ${known}`);
      kinds.set(name, kind);
      const exposed = kind === 'counter' ? `portcullis_plugin_${name}_total` : `portcullis_plugin_${name}`;
      let entry = this.#pluginMetrics.get(exposed);
      if (entry === undefined) {
        // Before the registry is made, nothing is in it for the name to clash with.
        if (this.#registry?.getSingleMetric(exposed) !== undefined)
          fail(`${exposed} is another metric's name`);
        const help = `A plugin's ${kind}: ${name}`;
        const merged = new MergedFamily(exposed, help, kind, this.#registry);
        if (this.#registry === undefined) this.#pluginFamilies.push(merged);
        entry = { kind, merged, plugins: new Map() };
        this.#pluginMetrics.set(exposed, entry);
      } else if (entry.kind !== kind) {
        fail(`${name} would be exposed as ${exposed}, which is already a ${entry.kind}`);
      }
      let own = entry.plugins.get(plugin);
      if (own === undefined) {
        const options = { name: exposed, help: entry.merged.help, labelNames: ['plugin', ...names] };
        own = {
          labels: names.join(','),
          family: entry.merged.add(
            kind === 'counter'
              ? new CounterFamily(options)
              : new HistogramFamily({ ...options, buckets: PLUGIN_BUCKETS }),
          ),
        };
        entry.plugins.set(plugin, own);
      }
      if (own.labels !== names.join(','))
        fail(`${name} has the labels [${own.labels}], not [${names.join(',')}]`);
      return own;
    };
    /** The series of `values`, unless the metric has its 1000 label sets already. */
    const seriesOf = (own: PluginMetric, name: string, values: Record<string, string>) => {
      if (own.family.size >= MAX_LABEL_SETS && !own.family.has(values)) {
        if (!warned.has(name))
          log.warn({ plugin, metric: name }, 'plugin metric has too many label sets: new ones are dropped');
        warned.add(name);
        return undefined;
      }
      return own.family.labels(values);
    };
    const metrics: MethodMetrics = {
      increment: (name, labels = {}) => {
        const own = metricOf('counter', name, labelsOf(name, labels));
        (seriesOf(own, name, { plugin, ...labels }) as CounterSeries | undefined)?.inc();
      },
      observe: (name, value, labels = {}) => {
        const own = metricOf('histogram', name, labelsOf(name, labels));
        (seriesOf(own, name, { plugin, ...labels }) as HistogramSeries | undefined)?.observe(value);
      },
    };
    outboundRecorders.set(metrics, this.#outboundFor(plugin));
    return metrics;
  }

  /** The exposition: Prometheus text format 0.0.4 and its content type. */
  async exposition(): Promise<{ readonly contentType: string; readonly body: string }> {
    const { registry } = this;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
}
