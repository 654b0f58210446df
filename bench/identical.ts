/**
 * Identical servers head to head: how far apart two processes of the very same server come out on this machine.
 *
 *   npm run build && node --experimental-strip-types bench/identical.ts [kind] [servers] [rounds] [--cpu-prof]
 *
 * Starts `servers` (default 4) processes of one `server.ts` kind (default `portcullis`, with the static token of
 * scenario (1); `baseline` for bare Fastify), pinned as `npm run bench` pins them, and measures them in `rounds`
 * (default 8) of 3 s in turn with `load.ts`. Prints one line per process: its median rate and the median of its
 * rate over the first process's in the same round. With `--cpu-prof`, each process writes a V8 CPU profile to
 * `$TMPDIR/portcullis-identical/<n>/` when stopped, to compare where a slow one spends its time.
 *
 * Found with it (Node 22.23): some processes of a server ran 15–25 % slower than their twins for their whole life,
 * in `process.nextTick` itself: V8 had left the tick literal's computed keys megamorphic after a full collection
 * (core/tick-shape.ts, which every `server.ts` process now loads; bench/README.md).
 */
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstLine } from './first-line.ts';
import { node } from './pinned.ts';
import { median } from './spawn-health.ts';

const root = join(import.meta.dirname, '..');
const [kind = 'portcullis', servers = '4', rounds = '8'] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'));
const profile = process.argv.includes('--cpu-prof');
const TOKEN = 'bench-static-token';
const config = {
  log: { file: '/dev/null' },
  authentication: {
    required: true,
    methods: { token: { enabled: true, storage: { tokens: { bench: { credential: TOKEN } } } } },
  },
};
const children: ChildProcess[] = [];
const urls: string[] = [];
for (let i = 0; i < Number(servers); i++) {
  const prof = profile
    ? ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), 'portcullis-identical', String(i))}`]
    : [];
  const child = node(join(root, 'bench', 'server.ts'), [kind, JSON.stringify(config)], 'server', prof);
  children.push(child);
  urls.push(`http://127.0.0.1:${String((await firstLine(child)).port)}/api/v1/flags`);
}
try {
  const load = node(
    join(root, 'bench', 'load.ts'),
    [
      JSON.stringify({
        rounds: Number(rounds),
        duration: 3,
        connections: 32,
        targets: urls.map((url, i) => ({
          name: String(i),
          url,
          headers: { authorization: `Bearer ${TOKEN}` },
          warmup: 5,
        })),
      }),
    ],
    'load',
  );
  const results = (await firstLine(load)) as Record<string, { rps: number }[]>;
  const first = results['0'] ?? [];
  for (const [name, measured] of Object.entries(results)) {
    const rates = measured.map((r) => r.rps);
    const ofFirst = median(measured.map((r, round) => r.rps / (first[round]?.rps ?? Number.NaN)));
    console.log(
      `${name} (pid ${children[Number(name)]?.pid}): median ${median(rates)} requests/s, ${ofFirst.toFixed(3)} of 0; rounds ${rates.join(' ')}`,
    );
  }
} finally {
  // SIGINT: a process stopped by it writes its CPU profile.
  await Promise.all(
    children.map((child) => new Promise((resolve) => child.once('exit', resolve).kill('SIGINT'))),
  );
}
