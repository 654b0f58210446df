/**
 * Start-up time: from spawning `node dist/bin/portcullis.js serve --config <file>` to the first 200 from
 * /health. Runs the built CLI (what `npm start` runs), several times, and prints the median.
 *
 * Usage: npm run build && node --experimental-strip-types bench/startup.ts [config] [runs]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const config = process.argv[2] ?? join(root, 'examples', 'config.yaml');
const runs = Number(process.argv[3] ?? 15);

async function once(): Promise<number> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [join(root, 'dist', 'bin', 'portcullis.js'), 'serve', '--config', config],
    {
      env: { ...process.env, FLIPT_SERVER_HTTP_PORT: '0', FLIPT_SERVER_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const address = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /"address":"([^"]+)"/.exec(seen);
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${seen}`)));
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

const times: number[] = [];
await once(); // warm Node's compile cache, as a second start of a deployment would be
for (let i = 0; i < runs; i++) times.push(await once());
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
const result = {
  scenario: 'startup',
  config,
  runs,
  median_ms: Math.round(median),
  min_ms: Math.round(times[0] ?? Number.NaN),
  max_ms: Math.round(times.at(-1) ?? Number.NaN),
};
console.log(JSON.stringify(result));
