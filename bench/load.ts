/**
 * The load of one comparison, in its own process (so that it does not share a CPU queue with a server):
 *
 *   node --experimental-strip-types bench/load.ts '<options as JSON>'
 *
 * Options: `targets` (each `{name, url, headers?, tokensFile?, scheme?, warmup?}`), `rounds`, `duration` (seconds)
 * and `connections`. Each target is warmed up (its `warmup` seconds; none to save the tokens of a token file), then
 * the rounds run, each target once per round in turn (each round starting one target further on), so that a noisy
 * machine slows them alike. With `tokensFile` (one credential per line) and `scheme`, every request takes the next
 * credential. Prints one JSON line:
 * `{"<name>": [{rps, p50_ms, p99_ms, non2xx, errors}, ...one per round]}`.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { turns } from './turns.ts';

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly tokensFile?: string;
  readonly scheme?: string;
  readonly warmup?: number;
}

interface LoadOptions {
  readonly targets: readonly Target[];
  readonly rounds: number;
  readonly duration: number;
  readonly connections: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const tokenLists = new Map(
  options.targets
    .filter((target) => target.tokensFile !== undefined)
    .map((target) => [
      target.name,
      readFileSync(target.tokensFile as string, 'utf8')
        .trim()
        .split('\n'),
    ]),
);
/** Each target's place in its own token list. */
const nextToken = new Map<string, number>();

function run(target: Target, duration: number): Promise<autocannon.Result> {
  const tokens = tokenLists.get(target.name) ?? [];
  return autocannon({
    url: target.url,
    headers: target.headers ?? {},
    connections: options.connections,
    duration,
    ...(tokens.length > 0 && {
      requests: [
        {
          setupRequest: (request: autocannon.Request) => {
            const index = nextToken.get(target.name) ?? 0;
            nextToken.set(target.name, index + 1);
            const token = tokens[index % tokens.length];
            return {
              ...request,
              headers: { ...request.headers, authorization: `${target.scheme} ${token}` },
            };
          },
        },
      ],
    }),
  });
}

for (const target of options.targets) {
  if ((target.warmup ?? 0) > 0) await run(target, target.warmup ?? 0);
}
const results: Record<string, unknown[]> = {};
for (let round = 0; round < options.rounds; round++) {
  for (const target of turns(options.targets, round)) {
    const result = await run(target, options.duration);
    const rounds = results[target.name] ?? [];
    results[target.name] = rounds;
    rounds.push({
      rps: Math.round(result.requests.average),
      p50_ms: result.latency.p50,
      p99_ms: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
