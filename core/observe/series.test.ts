import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily, HistogramFamily } from './series.ts';

describe('series counted in plain numbers', () => {
  it('are written out as prom-client writes its own counters and histograms', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.001, 0.01, 0.1, 1];
    const histogram = new HistogramFamily({
      name: 'x_seconds',
      help: 'h',
      labelNames: ['outcome'],
      buckets,
      registry: ours,
    });
    const reference = new Histogram({
      name: 'x_seconds',
      help: 'h',
      labelNames: ['outcome'],
      buckets,
      registers: [theirs],
    });
    for (const [outcome, value] of [
      ['ok', 0.0005],
      ['ok', 0.001],
      ['ok', 0.05],
      ['error', 3],
      ['ok', 0.5],
      ['error', 0.01],
    ] as const) {
      histogram.labels({ outcome }).observe(value);
      reference.observe({ outcome }, value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('count per label set, a series made once and kept', async () => {
    const registry = new Registry();
    const counter = new CounterFamily({ name: 'y_total', help: 'c', labelNames: ['a', 'b'], registry });
    const series = counter.labels({ a: '1', b: '2' });
    series.inc();
    series.inc(2);
    counter.labels({ a: '1', b: '2' }).inc();
    counter.labels({ a: '1\u0000', b: '2' }).inc();
    expect(counter.labels({ a: '1', b: '2' })).toBe(series);
    const text = await registry.metrics();
    expect(text).toContain('y_total{a="1",b="2"} 4');
    // A reset zeroes the series, which are kept: whoever holds one goes on counting into it, and it is exported.
    registry.resetMetrics();
    series.inc();
    expect(await registry.metrics()).toContain('y_total{a="1",b="2"} 1');
  });

  it('keep label sets apart whatever their values hold, and say which exist', async () => {
    const registry = new Registry();
    const counter = new CounterFamily({ name: 'z_total', help: 'c', labelNames: ['a', 'b'], registry });
    // Values that a key joined with a separator would run together.
    counter.labels({ a: 'x\u0000', b: 'y' }).inc();
    counter.labels({ a: 'x', b: '\u0000y' }).inc(2);
    expect(counter.size).toBe(2);
    expect(counter.has({ a: 'x', b: '\u0000y' })).toBe(true);
    expect(counter.has({ a: 'x', b: 'y' })).toBe(false);
    expect(counter.has({ a: 'x\u0000', b: '\u0000y' })).toBe(false);
    expect(counter.size).toBe(2);
    const text = await registry.metrics();
    expect(text).toContain('z_total{a="x\u0000",b="y"} 1');
    expect(text).toContain('z_total{a="x",b="\u0000y"} 2');
    // No label names: one series.
    const total = new CounterFamily({ name: 'w_total', help: 'c', labelNames: [], registry });
    total.labels({}).inc();
    total.labels({}).inc();
    expect(total.size).toBe(1);
    expect(await registry.metrics()).toContain('w_total 2');
  });

  it('refuse a value no label can hold at the call, and keep scraping', async () => {
    const registry = new Registry();
    const counter = new CounterFamily({ name: 'v_total', help: 'c', labelNames: ['a', 'b'], registry });
    counter.labels({ a: '1', b: '2' }).inc();
    for (const labels of [
      { a: Symbol('x') as unknown as string, b: '2' },
      { a: '1', b: Symbol('y') as unknown as string },
    ]) {
      expect(() => counter.labels(labels)).toThrow(TypeError);
      expect(counter.has({ a: '1', b: '3' })).toBe(false);
    }
    expect(counter.size).toBe(1);
    expect(await registry.metrics()).toContain('v_total{a="1",b="2"} 1');
  });
});
