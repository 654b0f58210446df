import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * prom-client, loaded when a registry is first needed (a `/metrics` scrape, an embedder reading
 * `metrics.registry`, an audit stream's counters) rather than imported: with @opentelemetry/api, which it
 * requires, it is about 80 modules, and the request path counts without it (series.ts).
 */
export function promClient(): typeof import('prom-client') {
  return require('prom-client') as typeof import('prom-client');
}
