import { describe, expect, it } from 'vitest';
import { registryWith, testMethod } from '../test-support/plugins.ts';
import { serveForTest } from '../test-support/server.ts';

// A plugin in JavaScript may pass a label value of any type: one no label can hold (a Symbol) is refused at its own
// call, as the series' joined key refused it before, never kept to fail every later scrape of `/metrics`.
describe('a plugin counting with a label value no label can hold', () => {
  it('is refused at its call, and /metrics keeps answering with everyone’s metrics', async () => {
    let refusal: unknown;
    const counting = testMethod('counting', (ctx) => {
      ctx.metrics.increment('hits', { kind: 'fine' });
      try {
        ctx.metrics.increment('hits', { kind: Symbol('x') as unknown as string });
      } catch (error) {
        refusal = error;
      }
      return {};
    });
    const t = await serveForTest(
      {
        authentication: {
          required: true,
          methods: {
            token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } },
            counting: { enabled: true },
          },
        },
      },
      { registry: registryWith(counting) },
    );
    expect(refusal).toBeInstanceOf(TypeError);
    const scraped = await t.fetch('/metrics', { headers: { authorization: 'Bearer ci-secret' } });
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toContain('portcullis_plugin_hits_total{plugin="counting",kind="fine"} 1');
    expect(text).toContain('portcullis_authentication_decisions_total');
  });
});
