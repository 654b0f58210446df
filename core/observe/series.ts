import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the request path, exported through a prom-client {@link Registry} in its text format
 * like any of its own, but counted in plain numbers: prom-client turns a series' labels into its key again on every
 * `inc` and `observe`, even through `labels()` children — measured at 0.4 µs a call, and a decision is a counter and a
 * histogram, on every request (13 % of scenario (1)'s rate). Here a series is looked up once and then only added to;
 * the labels are written out when `/metrics` is scraped.
 */

/** The label values of a series, by label name. */
export type Labels<L extends string> = { readonly [K in L]: string };

/** One sample as prom-client's registry writes it. */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** What a prom-client registry reads of a metric (`Registry.registerMetric`, `getMetricsAsString`). */
interface Exported {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
}

/** A counter series: add to it. */
export interface CounterSeries {
  inc(amount?: number): void;
}

/** A histogram series: observe a value (seconds, for times). */
export interface HistogramSeries {
  observe(value: number): void;
}

export abstract class Family<L extends string, S> implements Exported {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  readonly #labelNames: readonly L[];
  /**
   * The series by their label values, one map per label name in order, the last holding the series: looking one up
   * walks the maps with the values as they are, where joining them into one key string cost ~0.9 µs a request
   * (a decision's lookup, in the profile).
   */
  readonly #byValue = new Map<string, unknown>();
  /** Every series with its labels, in the order made (what is exported). */
  readonly #series: Array<{ readonly labels: Labels<L>; readonly series: S }> = [];

  /** Without `registry`, the family is exported by whoever holds it (a {@link MergedFamily}, or {@link register}). */
  constructor(options: { name: string; help: string; labelNames: readonly L[]; registry?: Registry }) {
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    options.registry?.registerMetric(asRegistered(this));
  }

  /** The series of these label values, or `undefined`; with `make`, made when there is none. */
  #find(labels: Labels<L>, make: boolean): S | undefined {
    const names = this.#labelNames;
    let level = this.#byValue;
    // With no label names, the one series sits under "". A value is read as a template reads it, which throws for
    // a Symbol (a plugin in JavaScript may pass anything): refused at the call, never kept to break every scrape.
    const last = names.length - 1;
    for (let index = 0; index < last; index++) {
      const value = `${labels[names[index] as L]}`;
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        if (!make) return undefined;
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = last < 0 ? '' : `${labels[names[last] as L]}`;
    let series = level.get(value) as S | undefined;
    if (series === undefined && make) {
      series = this.create();
      level.set(value, series);
      this.#series.push({ labels: { ...labels }, series });
    }
    return series;
  }

  /** The series of these label values, made on first use. */
  labels(labels: Labels<L>): S {
    return this.#find(labels, true) as S;
  }

  /** Whether these label values have a series already. */
  has(labels: Labels<L>): boolean {
    return this.#find(labels, false) !== undefined;
  }

  /** How many series it has (label sets seen). */
  get size(): number {
    return this.#series.length;
  }

  protected abstract create(): S;
  protected abstract zero(series: S): void;
  protected abstract samples(labels: Labels<L>, series: S): Sample[];

  /** Every series' samples. */
  values(): Sample[] {
    const values: Sample[] = [];
    for (const { labels, series } of this.#series) values.push(...this.samples(labels, series));
    return values;
  }

  /** What the registry writes (prom-client's `MetricObjectWithValues`). */
  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.values(),
    };
  }

  /**
   * `Registry.resetMetrics()`: every series back to zero. Kept, not forgotten: whoever looked one up keeps counting
   * into it, and it must still be exported.
   */
  reset(): void {
    for (const { series } of this.#series) this.zero(series);
  }
}

/** A family as prom-client's `registerMetric` types it (it reads only what {@link Exported} has, and calls get()). */
function asRegistered(metric: Exported & { get(): Promise<unknown> }) {
  return metric as unknown as Parameters<Registry['registerMetric']>[0];
}

/** Registers a family made without a registry (one made before its registry was). */
export function register(registry: Registry, metric: Family<string, unknown> | MergedFamily): void {
  registry.registerMetric(asRegistered(metric));
}

/**
 * One exported metric made of families of their own label names and bounds (the plugins' `ctx.metrics`: each
 * plugin's series of a name, which carry its `plugin` label): the samples of all of them under one name.
 */
export class MergedFamily implements Exported {
  readonly aggregator = 'sum' as const;
  readonly #members: Array<Family<string, unknown>> = [];

  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';

  /** Without `registry`, whoever holds it registers it (see {@link register}). */
  constructor(name: string, help: string, type: 'counter' | 'histogram', registry?: Registry) {
    this.name = name;
    this.help = help;
    this.type = type;
    registry?.registerMetric(asRegistered(this));
  }

  add<F extends Family<string, unknown>>(member: F): F {
    this.#members.push(member);
    return member;
  }

  async get() {
    const values = this.#members.flatMap((member) => member.values());
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const member of this.#members) member.reset();
  }
}

/** A counter family: `<name>{labels} <count>`. */
export class CounterFamily<L extends string> extends Family<L, CounterSeries & { value: number }> {
  readonly type = 'counter' as const;

  protected create() {
    return {
      value: 0,
      inc(amount = 1) {
        this.value += amount;
      },
    };
  }

  protected zero(series: { value: number }): void {
    series.value = 0;
  }

  protected samples(labels: Labels<L>, series: { value: number }): Sample[] {
    return [{ labels, value: series.value }];
  }
}

interface Buckets extends HistogramSeries {
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A histogram family: `<name>_bucket{le=…}` (cumulative, as Prometheus reads them), `_sum` and `_count`. */
export class HistogramFamily<L extends string> extends Family<L, Buckets> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];

  /** @param options.buckets upper bounds, ascending (`+Inf` is added). */
  constructor(options: {
    name: string;
    help: string;
    labelNames: readonly L[];
    buckets: readonly number[];
    registry?: Registry;
  }) {
    super(options);
    this.#bounds = [...options.buckets];
  }

  protected create(): Buckets {
    const bounds = this.#bounds;
    return {
      counts: new Array<number>(bounds.length).fill(0),
      sum: 0,
      count: 0,
      observe(value) {
        // The first bound at or above the value; none: only +Inf (the count) holds it.
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] as number)) {
            (this.counts[i] as number)++;
            break;
          }
        }
        this.sum += value;
        this.count++;
      },
    };
  }

  protected zero(series: Buckets): void {
    series.counts.fill(0);
    series.sum = 0;
    series.count = 0;
  }

  protected samples(labels: Labels<L>, series: Buckets): Sample[] {
    const samples: Sample[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += series.counts[i] as number;
      samples.push({
        metricName: `${this.name}_bucket`,
        labels: { le: bound, ...labels },
        value: cumulative,
      });
    });
    samples.push({
      metricName: `${this.name}_bucket`,
      labels: { le: '+Inf', ...labels },
      value: series.count,
    });
    samples.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
    samples.push({ metricName: `${this.name}_count`, labels, value: series.count });
    return samples;
  }
}
