/**
 * Start-up time: from spawning a process to the first 200 from /health, for `portcullis serve` (the built CLI that
 * `npm start` runs) and for a bare Fastify server answering /health, interleaved, so that a busy machine slows
 * both alike. Prints the medians and their ratio as JSON.
 *
 * Usage: npm run build && node --experimental-strip-types bench/startup.ts [config] [runs]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const config = process.argv[2] ?? join(root, 'examples', 'config.yaml');
const runs = Number(process.argv[3] ?? 15);

async function once(args: readonly string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, FLIPT_SERVER_HTTP_PORT: '0', FLIPT_SERVER_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /"address":"([^"]+)"/.exec(seen);
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${seen}`)));
  });
  for (;;) {
    const ok = await fetch(`${address}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
  }
  const elapsed = performance.now() - started;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  return elapsed;
}

const median = (times: number[]) =>
  [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? Number.NaN;
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
