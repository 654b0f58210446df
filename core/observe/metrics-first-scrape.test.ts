import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parseExposition, value } from '../test-support/exposition.ts';
import { Metrics } from './metrics.ts';

/**
 * Found in review (issue 21, prom-client made on first use): `metrics.registry`, which embedders may read and scrape
 * themselves, made prom-client's event-loop monitor on that first read, so a scrape at once read an empty monitor
 * (`nodejs_eventloop_lag_min_seconds` 2^63 ns, mean NaN). The monitor is now portcullis's, running from the moment
 * the metrics are made. (Two concurrent scrapes reading 9.2e9 in the second is prom-client's reset on collect.)
 */
describe('metrics.registry read first by an embedder (review of issue 21)', () => {
  it('an embedder scraping metrics.registry (its first use) 100 ms after start reads event-loop samples', async () => {
    const metrics = new Metrics();
    await sleep(100);
    const samples = parseExposition(await metrics.registry.metrics());
    expect(value(samples, 'nodejs_eventloop_lag_min_seconds', {})).toBeLessThan(10);
    expect(value(samples, 'nodejs_eventloop_lag_mean_seconds', {})).not.toBeNaN();
  });
});
