/**
 * Start-up time: from spawning a process to the first 200 from /health, for `portcullis serve` (the built CLI that
 * `npm start` runs) and for a bare Fastify server answering /health, interleaved, so that a busy machine slows
 * both alike. Prints the medians and their ratio as JSON.
 *
 * Usage: npm run build && node --experimental-strip-types bench/startup.ts [config] [runs]
 */
import { join } from 'node:path';
import { median, timeToHealth } from './spawn-health.ts';

const root = join(import.meta.dirname, '..');
const config = process.argv[2] ?? join(root, 'examples', 'config.yaml');
const runs = Number(process.argv[3] ?? 15);

const once = (args: readonly string[]) => timeToHealth(args);

const portcullis = [join(root, 'dist', 'bin', 'portcullis.js'), 'serve', '--config', config];
const baseline = [join(root, 'bench', 'baseline-health.mjs')];

// One warm-up each: Node's compile cache, as a second start of a deployment would have it.
await once(portcullis);
await once(baseline);
const times = { portcullis: [] as number[], baseline: [] as number[] };
for (let i = 0; i < runs; i++) {
  times.portcullis.push(await once(portcullis));
  times.baseline.push(await once(baseline));
}
console.log(
  JSON.stringify({
    scenario: 'startup',
    config,
    runs,
    median_ms: Math.round(median(times.portcullis)),
    baseline_median_ms: Math.round(median(times.baseline)),
    ratio: Number((median(times.portcullis) / median(times.baseline)).toFixed(2)),
  }),
);
