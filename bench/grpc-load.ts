/**
 * The load of one gRPC comparison, in its own process (as `load.ts` is for HTTP, with autocannon):
 *
 *   node --experimental-strip-types bench/grpc-load.ts '<options as JSON>'
 *
 * Options: `targets` (each `{name, url, headers?, warmup?, expect?}`: `url` is `h2c://host:port/<package.Service>/
 * <Method>` of a method shaped as `portcullis.test.Echo/Unary`, `headers` the call's metadata), `rounds`, `duration`
 * (seconds), `connections`: how many calls are in flight at once, spread over `channels` HTTP/2 connections, and
 * `client`. Each call is followed by the next as soon as it ends, so that, as with autocannon, the concurrency is
 * fixed and the rate is what the servers sustain.
 *
 * `client: "http2"` (the default) makes each call with `node:http2`: the very headers grpc-js sends (user agent,
 * `grpc-timeout`, `te`, encodings), one length-prefixed message, the status read from the trailers (or from a
 * trailers-only answer). `client: "grpc-js"` makes them with grpc-js's `Client.makeUnaryRequest`. Both send the request
 * encoded once and do not decode answers (a status OK is what is checked). They are on the same wire; what differs is
 * the client's CPU, which shares the machine with the servers: grpc-js spends about three times as much per call as
 * the servers it calls, so that it, not the upstream, sets the rate of calling the upstream directly (bench/README.md).
 *
 * Before anything else, each target with `expect` is called once by a grpc-js client with `count: 1`, asking the
 * bench's upstream for the metadata it received: the pairs of `expect` must be among it (the gateway's identity
 * metadata shows that a call went through its authentication), or the load stops with an error. Then warm-up and
 * rounds as in `load.ts`. Prints one JSON line, in `load.ts`'s shape: `{"<name>": [{rps, p50_ms, p99_ms, non2xx,
 * errors, statuses}, ...one per round]}` — `non2xx`: calls answered with a status other than OK (a refusal), `errors`: calls
 * with no answer (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, INTERNAL, UNKNOWN: a reset stream, a lost connection),
 * `statuses`: how many calls ended with each status other than OK.
 */
import { type ClientHttp2Session, connect, constants } from 'node:http2';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { unary } from './echo.ts';
import { turns } from './turns.ts';

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly warmup?: number;
  readonly expect?: Record<string, string>;
}

interface LoadOptions {
  readonly targets: readonly Target[];
  readonly rounds: number;
  readonly duration: number;
  readonly connections: number;
  readonly channels: number;
  readonly client?: 'http2' | 'grpc-js';
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
/** A call with no answer after this long ends (autocannon's default timeout). */
const DEADLINE_MS = 10_000;
const NO_ANSWER = new Set<number>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

const encode = (request: { message: string; count: number }) => unary.requestSerialize(request);
const request = encode({ message: 'new-checkout', count: 0 });
/** The request as gRPC puts it on HTTP/2: not compressed (0), its length, the message. */
const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), request]);
framed.writeUInt32BE(request.length, 1);
const asIs = (bytes: Buffer) => bytes;
const grpcJsVersion = (createRequire(import.meta.url)('@grpc/grpc-js/package.json') as { version: string })
  .version;

/** Makes one call on the `index`-th channel and says how it ended. */
type Call = (index: number) => Promise<number>;

function grpcJsClient(url: URL): grpc.Client {
  // Its own subchannel pool: otherwise grpc-js shares one connection among every client of the same address.
  return new grpc.Client(url.host, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
}

function grpcJsCall(
  client: grpc.Client,
  path: string,
  metadata: grpc.Metadata,
  body: Buffer,
): Promise<{ code: number; answer?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      asIs,
      asIs,
      body,
      metadata.clone(),
      { deadline: Date.now() + DEADLINE_MS },
      (error: grpc.ServiceError | null, answer?: Buffer) =>
        resolve(
          error === null
            ? { code: grpc.status.OK, ...(answer !== undefined && { answer }) }
            : { code: error.code },
        ),
    );
  });
}

function grpcJsCaller(target: Target): { call: Call; close(): void } {
  const url = new URL(target.url);
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(target.headers ?? {})) metadata.set(key, value);
  const clients = Array.from({ length: options.channels }, () => grpcJsClient(url));
  return {
    call: async (index) =>
      (await grpcJsCall(clients[index % clients.length] as grpc.Client, url.pathname, metadata, request))
        .code,
    close: () => {
      for (const client of clients) client.close();
    },
  };
}

function http2Caller(target: Target): { call: Call; close(): void } {
  const url = new URL(target.url);
  const sessions: ClientHttp2Session[] = Array.from({ length: options.channels }, () => {
    const session = connect(`http://${url.host}`);
    // A lost connection fails the calls on it (counted as errors); it must not end the process.
    session.on('error', () => {});
    return session;
  });
  const headers = {
    ':method': 'POST',
    ':path': url.pathname,
    'grpc-accept-encoding': 'identity,deflate,gzip',
    'accept-encoding': 'identity',
    'grpc-timeout': `${DEADLINE_MS}m`,
    'user-agent': `grpc-node-js/${grpcJsVersion}`,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...target.headers,
  };
  const call: Call = (index) =>
    new Promise((resolve) => {
      let code: number | undefined;
      let stream: ReturnType<ClientHttp2Session['request']>;
      try {
        stream = (sessions[index % sessions.length] as ClientHttp2Session).request(headers);
      } catch {
        resolve(grpc.status.UNAVAILABLE);
        return;
      }
      const status = (value: unknown) => {
        if (value !== undefined) code = Number(value);
      };
      stream.on('response', (answer) => status(answer['grpc-status']));
      stream.on('trailers', (trailers) => status(trailers['grpc-status']));
      stream.on('error', () => {});
      stream.setTimeout(DEADLINE_MS, () => {
        code = grpc.status.DEADLINE_EXCEEDED;
        stream.close(constants.NGHTTP2_CANCEL);
      });
      stream.resume();
      stream.on('close', () => resolve(code ?? grpc.status.INTERNAL));
      stream.end(framed);
    });
  return {
    call,
    close: () => {
      for (const session of sessions) session.destroy();
    },
  };
}

/** One call by grpc-js asking for the metadata the upstream received, checked against `expect`. */
async function probe(target: Target): Promise<void> {
  const url = new URL(target.url);
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(target.headers ?? {})) metadata.set(key, value);
  const client = grpcJsClient(url);
  const { code, answer } = await grpcJsCall(
    client,
    url.pathname,
    metadata,
    encode({ message: 'probe', count: 1 }),
  );
  client.close();
  if (code !== grpc.status.OK || answer === undefined) {
    throw new Error(`${target.name}: the first call ended with status ${code} (${grpc.status[code]})`);
  }
  const seen = (unary.responseDeserialize(answer) as { metadata: Record<string, string> }).metadata;
  for (const [key, value] of Object.entries(target.expect ?? {})) {
    if (seen[key] !== value) {
      throw new Error(
        `${target.name}: the upstream got ${key}: ${seen[key]}, not ${value} (${JSON.stringify(seen)})`,
      );
    }
  }
}

interface Measured {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;

/** `connections` calls in flight for `duration` seconds; the calls that ended within that time are counted. */
async function run(call: Call, duration: number): Promise<Measured> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let non2xx = 0;
  let errors = 0;
  const until = performance.now() + duration * 1000;
  const caller = async (index: number) => {
    while (performance.now() < until) {
      const sent = performance.now();
      const code = await call(index);
      const ended = performance.now();
      if (ended > until) break;
      if (code === grpc.status.OK) {
        latencies.push(ended - sent);
        continue;
      }
      const name = grpc.status[code] ?? String(code);
      statuses[name] = (statuses[name] ?? 0) + 1;
      if (NO_ANSWER.has(code)) errors += 1;
      else non2xx += 1;
    }
  };
  await Promise.all(Array.from({ length: options.connections }, (_, index) => caller(index)));
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: Math.round((latencies.length + non2xx) / duration),
    p50_ms: round2(percentile(sorted, 0.5)),
    p99_ms: round2(percentile(sorted, 0.99)),
    non2xx,
    errors,
    statuses,
  };
}

for (const target of options.targets) if (target.expect !== undefined) await probe(target);
const makeCaller = options.client === 'grpc-js' ? grpcJsCaller : http2Caller;
const callers = new Map(options.targets.map((target) => [target.name, makeCaller(target)]));
const callOf = (target: Target) => (callers.get(target.name) as ReturnType<typeof makeCaller>).call;
for (const target of options.targets) {
  if ((target.warmup ?? 0) > 0) await run(callOf(target), target.warmup ?? 0);
}
const results: Record<string, Measured[]> = {};
for (let round = 0; round < options.rounds; round++) {
  for (const target of turns(options.targets, round)) {
    const measured = await run(callOf(target), options.duration);
    const rounds = results[target.name] ?? [];
    results[target.name] = rounds;
    rounds.push(measured);
  }
}
for (const caller of callers.values()) caller.close();
process.stdout.write(`${JSON.stringify(results)}\n`);
process.exit(0);
