import type { Registry } from 'prom-client';
import { loadConfig } from '../../../config/load.ts';
import type { AuditConfig } from '../../../config/types.ts';
import { createLogger, type Logger, SecretScrubber } from '../../../log.ts';

/** A logger writing JSON lines into `lines` (nothing scrubbed: a test sees what the code itself logs). */
export function capturedLogger(level = 'info'): {
  log: Logger;
  lines: string[];
  entries: () => Array<Record<string, unknown>>;
} {
  const lines: string[] = [];
  const log = createLogger({ level, encoding: 'json', keys: {} }, new SecretScrubber(), {
    write: (line: string) => lines.push(line),
  });
  return { log, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** The value of a counter or gauge of `registry` for exactly `labels` (0 when it has no such series). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Readonly<Record<string, string>>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  const keys = Object.keys(labels);
  const found = values.find(
    (v) =>
      Object.keys(v.labels).length === keys.length &&
      keys.every((key) => String((v.labels as Record<string, unknown>)[key]) === labels[key]),
  );
  return found?.value ?? 0;
}

/** `audit` as the runtime gets it: `settings` validated by the configuration loader, every default applied. */
export async function auditConfig(settings: Record<string, unknown>): Promise<AuditConfig> {
  const { config } = await loadConfig({ object: { audit: settings }, env: {} });
  return config.audit;
}
