/**
 * `npm run bench [-- --quick]`: the cost of authentication, measured against a bare Fastify baseline in the same run.
 *
 * Each HTTP scenario runs its server in one process and autocannon in another (bench/server.ts, bench/load.ts; for
 * gRPC, bench/grpc-load.ts):
 * the scenario and its baseline are warmed up, then measured in alternating rounds, so that a noisy machine slows
 * both alike; the ratio is of the medians. Results go to `bench/results/<date>.json` (`<date>-quick.json` for a
 * quick run) and, for a full run, `bench/results/latest.json`, and a table is printed.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../core/test-support/ports.ts';
import { UNARY_PATH } from './echo.ts';
import { firstLine } from './first-line.ts';
import { measureMemory } from './memory.ts';
import { node, pinned } from './pinned.ts';
import { median } from './spawn-health.ts';
import { startupTime } from './startup-all.ts';
import { makeTokens } from './tokens.ts';

const root = join(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const settings = quick
  ? { rounds: 2, duration: 1, warmup: 2, connections: 32, channels: 4, startupRuns: 5, firstSeen: 11_000 }
  : { rounds: 10, duration: 3, warmup: 5, connections: 32, channels: 4, startupRuns: 15, firstSeen: 30_000 };
const work = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** One row of the results. `ratio` is to what the scenario is compared with; `value` for the non-HTTP ones. */
export interface Row {
  scenario: string;
  rps: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  ratio: number | null;
  /** Against each peer (what a user would pick instead), head to head in the same rounds: its rate over the peer's. */
  vs_peer?: Record<string, number>;
  /** (6): the gateway's rate over a bare Fastify + undici proxy's, and over nginx's, head to head. */
  vs_bare_proxy?: number;
  vs_nginx?: number;
  /** (3): round trips to Redis per authenticated request (its reads from clients, requests one at a time). */
  redis_round_trips?: number;
  value?: number;
  unit?: string;
  target: string;
  met: boolean;
}

interface Load {
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly non2xx: number;
  readonly errors: number;
  /** gRPC: how many calls ended with each status other than OK. */
  readonly statuses?: Record<string, number>;
}

/**
 * One request pattern to measure: where, with what credential. A `h2c://host:port/<Service>/<Method>` url is a gRPC
 * unary call (bench/grpc-load.ts, `headers` its metadata; `expect`: metadata the upstream must have received).
 */
interface Target {
  readonly url: string;
  readonly expect?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly tokensFile?: string;
  readonly scheme?: string;
}

async function server(
  kind: string,
  config?: unknown,
): Promise<{ url: string; token?: string; stop(): void }> {
  const child = node(
    join(root, 'bench', 'server.ts'),
    [kind, ...(config === undefined ? [] : [JSON.stringify(config)])],
    'server',
  );
  children.add(child);
  const ready = await firstLine(child);
  return {
    url: `http://127.0.0.1:${String(ready.port)}`,
    ...(typeof ready.token === 'string' && { token: ready.token }),
    stop() {
      child.kill('SIGTERM');
      children.delete(child);
    },
  };
}

const round2 = (value: number) => Math.round(value * 100) / 100;
let baselineWarm = false;

interface Comparison {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly ratio: number;
  /**
   * Each peer, by name: its requests per second, its ratio to the reference, and the scenario's rate over its, head
   * to head (`vs_peer`).
   */
  readonly peers: Readonly<
    Record<string, { readonly rps: number; readonly ratio: number; readonly head: number }>
  >;
}

/** The median over the rounds of `a`'s rate over `b`'s in the same round (next to each other in time). */
const roundRatio = (a: readonly Load[], b: readonly Load[]) =>
  round2(median(a.map((r, i) => r.rps / (b[i]?.rps ?? Number.NaN))));

/**
 * A scenario against what it is compared with, in one load process: both warmed up (the shared baseline only the
 * first time; a token file not at all, it would use tokens up), then rounds of the two in turn. With `peer` (what
 * the scenario is also held against, given the same requests), rounds of the three.
 */
async function compare(
  subject: Target,
  reference: Target,
  options: { refused?: boolean; peers?: Readonly<Record<string, Target>> } = {},
): Promise<Comparison> {
  const isBaseline = reference === baselineTarget;
  // The reference gets the very requests the scenario gets, credentials included (it ignores them), so that the
  // ratio is the cost of authenticating a request, not of sending a longer one.
  const { url: _url, expect: _expect, ...request } = subject;
  const isGrpc = subject.url.startsWith('h2c:');
  const child = node(
    join(root, 'bench', isGrpc ? 'grpc-load.ts' : 'load.ts'),
    [
      JSON.stringify({
        rounds: settings.rounds,
        duration: settings.duration,
        connections: settings.connections,
        ...(isGrpc && { channels: settings.channels }),
        targets: [
          {
            name: 'reference',
            warmup: isBaseline && baselineWarm ? 0 : settings.warmup,
            ...request,
            ...reference,
          },
          { name: 'subject', warmup: subject.tokensFile === undefined ? settings.warmup : 0, ...subject },
          // A peer gets the scenario's very requests too (a token file's included: none used up warming up).
          ...Object.entries(options.peers ?? {}).map(([name, peer]) => ({
            name: `peer:${name}`,
            warmup: subject.tokensFile === undefined ? settings.warmup : 0,
            ...request,
            ...peer,
          })),
        ],
      }),
    ],
    'load',
  );
  if (isBaseline) baselineWarm = true;
  const results = (await firstLine(child)) as unknown as Record<'reference' | 'subject', Load[]> &
    Record<string, Load[] | undefined>;
  await new Promise((resolve) => child.once('exit', resolve));
  for (const [name, rounds] of Object.entries(results)) {
    for (const measured of rounds ?? []) {
      const unexpected = name === 'subject' && options.refused ? 0 : measured.non2xx;
      if (unexpected > 0 || measured.errors > 0) {
        const statuses = measured.statuses === undefined ? '' : ` (${JSON.stringify(measured.statuses)})`;
        throw new Error(
          `${name}: ${measured.non2xx} answers not 2xx and ${measured.errors} errors${statuses}`,
        );
      }
    }
  }
  const rps = median(results.subject.map((r) => r.rps));
  const peers: Record<string, Comparison['peers'][string]> = {};
  for (const name of Object.keys(options.peers ?? {})) {
    const rounds = results[`peer:${name}`] ?? [];
    peers[name] = {
      rps: median(rounds.map((r) => r.rps)),
      ratio: roundRatio(rounds, results.reference),
      head: roundRatio(results.subject, rounds),
    };
  }
  return {
    rps,
    p50: median(results.subject.map((r) => r.p50_ms)),
    p99: median(results.subject.map((r) => r.p99_ms)),
    // Each round of the scenario against the round of the reference next to it in time, then the median of those:
    // a machine that slows down for a while slows both sides of a pair.
    ratio: roundRatio(results.subject, results.reference),
    peers,
  };
}

/** Issue 21's target for a row with peers: at least each peer's rate, head to head. */
const OF_PEER = 1;

function row(scenario: string, measured: Comparison, target: number): Row {
  const peers = Object.entries(measured.peers);
  const behind = peers.filter(([, peer]) => peer.head < OF_PEER).map(([name]) => name);
  const peerTarget = peers.length === 0 ? '' : `; vs_peer >= ${OF_PEER}`;
  return {
    scenario,
    rps: measured.rps,
    p50_ms: measured.p50,
    p99_ms: measured.p99,
    ratio: measured.ratio,
    ...(peers.length > 0 && { vs_peer: Object.fromEntries(peers.map(([name, peer]) => [name, peer.head])) }),
    target: `ratio >= ${target}${peerTarget}`,
    met: measured.ratio >= target && behind.length === 0,
  };
}

/** What a row measured head to head with another must reach of its rate. */
const HEAD_TO_HEAD = 0.95;

/**
 * A row measured head to head with `reference` (another scenario's comparison): its ratio to the baseline through
 * the reference's, its target `what` at {@link HEAD_TO_HEAD} of the reference's rate in the same rounds.
 */
function headToHeadRow(scenario: string, measured: Comparison, reference: Comparison, what: string): Row {
  return {
    ...row(scenario, { ...measured, ratio: round2(measured.ratio * reference.ratio) }, 0),
    target: `${what} (head to head: ${measured.ratio} of its rate; >= ${HEAD_TO_HEAD})`,
    met: measured.ratio >= HEAD_TO_HEAD,
  };
}

/** Runs `command` on the servers' CPUs, as every server of the bench. */
function serverProcess(command: readonly string[]): ChildProcess {
  const [file, ...args] = pinned(command, 'server');
  const child = spawn(file, args, { stdio: 'ignore' });
  children.add(child);
  return child;
}

/** A redis-server of our own, on a free port. */
async function startRedis(): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const redis = [
    'redis-server',
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  const child = serverProcess(redis);
  // redis-cli's "Could not connect" while the server starts is expected, and not printed.
  const answers = () => {
    try {
      return execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return undefined;
    }
  };
  for (let i = 0; answers() !== 'PONG'; i++) {
    if (i === 100) {
      child.kill('SIGTERM');
      throw new Error(`redis-server on port ${port} did not answer PING within 5 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, stop: () => child.kill('SIGTERM') };
}

/**
 * nginx (one worker, as Node's one thread) with `proxy_pass` to `upstream`, keeping its upstream connections open
 * as an operator would configure it (`keepalive`, HTTP/1.1): the proxy a user might put there instead.
 */
async function startNginx(upstream: string): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(work, 'nginx-'));
  mkdirSync(join(dir, 'logs'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((name) => `  ${name}_temp_path ${join(dir, name)};`)
    .join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  # nginx closes a client connection after 1000 requests by default; a request racing that close is an error, and a
  # run stops on any error. The load's connections and the upstream's stay open for the whole row, as Node's do.
  keepalive_requests 1000000;
${temp}
  upstream service { server ${new URL(upstream).host}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const binary = ['/usr/sbin/nginx', 'nginx'].find((candidate) => spawnSync(candidate, ['-v']).status === 0);
  if (binary === undefined) throw new Error('nginx is not installed: apt-get install nginx-light');
  const child = serverProcess([binary, '-p', dir, '-c', join(dir, 'nginx.conf')]);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (up) break;
    if (i === 100 || child.exitCode !== null) throw new Error(`nginx did not start (see ${dir}/logs)`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, stop: () => child.kill('SIGTERM') };
}

/** Logs written as in production (one line per refused request) but to /dev/null, not to a terminal. */
const quiet = { log: { file: '/dev/null' } };
const tokenConfig = (extra: Record<string, unknown> = {}) => ({
  ...quiet,
  authentication: {
    required: true,
    methods: {
      token: { enabled: true, storage: { tokens: { bench: { credential: 'bench-static-token' } } } },
    },
    ...extra,
  },
});
/**
 * (10)'s target: the gateway's rate head to head with a bare `node:http2` forwarder with no authentication, in the
 * same rounds; authentication and the gateway's care may cost a tenth (as issue 21 asks of the HTTP proxy against a
 * bare one).
 */
const OF_BARE_FORWARDER = 0.9;
/** (6)'s peer, `bench/server.ts bare-proxy`, and what the gateway must reach of its rate (issue 21). */
const BARE_PROXY = 'bare proxy';
/** How many sequential requests (3)'s Redis round trips are counted over. */
const ROUND_TRIP_REQUESTS = 1000;
const OF_BARE_PROXY = 0.9;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const flags = (url: string) => `${url}/api/v1/flags`;

const rows: Row[] = [];
const report = (done: Row) => {
  rows.push(done);
  process.stderr.write(`${JSON.stringify(done)}\n`);
};

execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
const baseline = await server('baseline');
const baselineTarget: Target = { url: flags(baseline.url) };

// (1) a static token, (9) refused tokens at full rate, (5) forward-auth: one server.
{
  const app = await server('portcullis', tokenConfig());
  // The peer: @fastify/bearer-auth with the same key, on the same application.
  const bearerPeer = await server('bearer-auth', { keys: ['bench-static-token'] });
  const staticToken = await compare(
    { url: flags(app.url), headers: bearer('bench-static-token') },
    baselineTarget,
    { peers: { '@fastify/bearer-auth': { url: flags(bearerPeer.url) } } },
  );
  bearerPeer.stop();
  report(row('1 static token (Bearer)', staticToken, 0.85));
  // "No slower than (1)" is measured head to head: refused and admitted requests in alternating rounds.
  const refused = await compare(
    { url: flags(app.url), headers: bearer('not-a-token') },
    { url: flags(app.url), headers: bearer('bench-static-token') },
    { refused: true },
  );
  report(headToHeadRow('9 refused tokens (401)', refused, staticToken, 'as fast as scenario 1'));
  const forward = await compare(
    {
      url: `${app.url}/auth/v1/forward`,
      headers: { ...bearer('bench-static-token'), 'x-forwarded-uri': '/api/v1/flags' },
    },
    baselineTarget,
  );
  report(row('5 forward-auth', forward, 0.85));
  app.stop();

  // (1) again with the audit stream on (a log file and a webhook, every event kept), head to head with (1): an
  // admitted request records no event, and must not pay for the stream being there.
  const receiver = await server('upstream');
  const audited = await server('portcullis', {
    ...tokenConfig(),
    audit: {
      sinks: {
        log: { enabled: true, file: join(work, 'audit.log') },
        webhook: { enabled: true, url: `${receiver.url}/audit`, signing_secret: 'bench-signing-secret' },
      },
    },
  });
  const plain = await server('portcullis', tokenConfig());
  const withAudit = await compare(
    { url: flags(audited.url), headers: bearer('bench-static-token') },
    { url: flags(plain.url), headers: bearer('bench-static-token') },
  );
  report(
    headToHeadRow('1a static token, audit sinks on', withAudit, staticToken, 'within noise of scenario 1'),
  );
  audited.stop();
  receiver.stop();

  // (1) against the same server with its decisions not counted: what the metrics cost every request.
  const uncounted = await server('portcullis-uncounted', tokenConfig());
  const counted = await compare(
    { url: flags(plain.url), headers: bearer('bench-static-token') },
    { url: flags(uncounted.url), headers: bearer('bench-static-token') },
  );
  report(
    headToHeadRow(
      '1b static token, metrics counted (vs not)',
      counted,
      staticToken,
      'within noise of not counting',
    ),
  );
  uncounted.stop();
  plain.stop();
}

// (2) a token created through the store, kept in memory; (3) the same in Redis.
{
  const app = await server('portcullis', tokenConfig());
  // The peer: Passport's bearer strategy over tokens kept in memory (by their hash, as the store keeps them).
  const passportPeer = await server('passport-bearer', { keys: [app.token ?? ''] });
  const created = await compare({ url: flags(app.url), headers: bearer(app.token ?? '') }, baselineTarget, {
    peers: { 'passport-http-bearer': { url: flags(passportPeer.url) } },
  });
  passportPeer.stop();
  report(row('2 created token, memory store', created, 0.85));
  app.stop();
  const redis = await startRedis();
  const redisApp = await server(
    'portcullis',
    tokenConfig({ session: { storage: { type: 'redis', redis: { host: '127.0.0.1', port: redis.port } } } }),
  );
  const inRedis = await compare(
    { url: flags(redisApp.url), headers: bearer(redisApp.token ?? '') },
    baselineTarget,
  );
  // Round trips to Redis per request: the reads Redis processed from its clients over sequential requests (one at
  // a time, so that no two share a round trip through ioredis's auto-pipelining), less those of asking it. Reads,
  // not commands: the commands a script runs count as commands, though its call is one round trip.
  const reads = () =>
    Number(
      /total_reads_processed:(\d+)/.exec(
        execFileSync('redis-cli', ['-p', String(redis.port), 'info', 'stats']).toString(),
      )?.[1],
    );
  const probe = reads();
  const asking = reads() - probe;
  const before = reads();
  for (let i = 0; i < ROUND_TRIP_REQUESTS; i++) {
    const response = await fetch(flags(redisApp.url), { headers: bearer(redisApp.token ?? '') });
    await response.arrayBuffer();
    if (response.status !== 200)
      throw new Error(`Redis round trips: ${response.status} from ${redisApp.url}`);
  }
  const roundTrips = round2((reads() - before - asking) / ROUND_TRIP_REQUESTS);
  const redisRow = row('3 created token, Redis store', inRedis, 0.6);
  report({
    ...redisRow,
    redis_round_trips: roundTrips,
    target: `${redisRow.target}; Redis round trips per request: ${roundTrips}`,
  });
  redisApp.stop();
  redis.stop();
}

// (4) JWTs, ES256 and RS256: one token repeated, and every token new.
for (const alg of ['ES256', 'RS256'] as const) {
  const tokens = await makeTokens(work, alg, settings.firstSeen);
  const app = await server('portcullis', {
    ...quiet,
    authentication: {
      required: true,
      methods: { jwt: { enabled: true, public_key_file: tokens.publicKeyFile } },
    },
  });
  // The peers: @fastify/jwt verifying every request (its default), and with its cache of verified tokens on.
  const jwtPeer = (cache: boolean) =>
    server('fastify-jwt', { publicKeyFile: tokens.publicKeyFile, alg, cache, scheme: 'JWT' });
  const [verifying, caching] = await Promise.all([jwtPeer(false), jwtPeer(true)]);
  const peers = {
    '@fastify/jwt': { url: flags(verifying.url) },
    '@fastify/jwt cache': { url: flags(caching.url) },
  };
  const repeated = await compare(
    { url: flags(app.url), headers: { authorization: `JWT ${tokens.one}` } },
    baselineTarget,
    { peers },
  );
  report(row(`4 JWT ${alg}, repeated token`, repeated, 0.8));
  const firstSeen = await compare(
    { url: flags(app.url), tokensFile: tokens.file, scheme: 'JWT' },
    baselineTarget,
    { peers },
  );
  report(row(`4 JWT ${alg}, first-seen tokens`, firstSeen, 0));
  verifying.stop();
  caching.stop();
  app.stop();
}

// (6) the reverse proxy, against calling the upstream directly.
{
  const upstream = await server('upstream');
  const gateway = await server('gateway', {
    ...tokenConfig(),
    server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
    gateway: { upstream: upstream.url },
  });
  // The proxy's limits, in the same rounds: the least a Node proxy does, and nginx.
  const bare = await server('bare-proxy', { upstream: upstream.url });
  const nginx = await startNginx(upstream.url);
  const proxied = await compare(
    { url: flags(gateway.url), headers: bearer('bench-static-token') },
    { url: flags(upstream.url) },
    { peers: { [BARE_PROXY]: { url: flags(bare.url) }, nginx: { url: flags(nginx.url) } } },
  );
  const againstBare = proxied.peers[BARE_PROXY] as Comparison['peers'][string];
  const againstNginx = proxied.peers.nginx as Comparison['peers'][string];
  report({
    ...row('6 reverse proxy (ratio to the upstream direct)', { ...proxied, peers: {} }, 0.7),
    vs_bare_proxy: againstBare.head,
    vs_nginx: againstNginx.head,
    target: `ratio >= 0.7; vs_bare_proxy >= ${OF_BARE_PROXY} (the bare proxy: ${againstBare.rps} rps, ratio ${againstBare.ratio}; nginx: ${againstNginx.rps} rps, ratio ${againstNginx.ratio})`,
    met: proxied.ratio >= 0.7 && againstBare.head >= OF_BARE_PROXY,
  });
  nginx.stop();
  bare.stop();
  gateway.stop();
  upstream.stop();
}

// (10) a gRPC unary call through the gateway (`h2c://` upstream), against calling the upstream directly; its target
// head to head with a bare HTTP/2 forwarder in front of the same upstream, in the same rounds.
{
  const upstream = await server('grpc-upstream');
  const upstreamAddress = new URL(upstream.url).host;
  const call = (at: { url: string }) => `h2c://${new URL(at.url).host}${UNARY_PATH}`;
  const forwarder = await server('grpc-forwarder', { upstream: upstreamAddress });
  const gateway = await server('gateway', {
    ...tokenConfig(),
    server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
    gateway: { upstream: `h2c://${upstreamAddress}` },
  });
  const proxied = await compare(
    {
      url: call(gateway),
      headers: bearer('bench-static-token'),
      // The upstream is asked once what it received: the gateway's identity metadata, so the call was authenticated.
      expect: { 'x-auth-request-method': 'METHOD_TOKEN' },
    },
    { url: `h2c://${upstreamAddress}${UNARY_PATH}` },
    { peers: { forwarder: { url: call(forwarder) } } },
  );
  const bare = proxied.peers.forwarder as Comparison['peers'][string];
  report({
    ...row('10 gRPC unary through the gateway (ratio to the upstream direct)', proxied, 0),
    target:
      `>= ${OF_BARE_FORWARDER} of a bare node:http2 forwarder's rate, head to head (${bare.head}; ` +
      `the forwarder: ${bare.rps} calls/s, ratio ${bare.ratio})`,
    met: bare.head >= OF_BARE_FORWARDER,
  });
  forwarder.stop();
  gateway.stop();
  upstream.stop();
}
baseline.stop();

// (7) start-up with every built-in method enabled; (8) memory of 100 000 live authentications.
{
  const startup = await startupTime(work, settings.startupRuns);
  report({
    scenario: '7 start-up, every built-in method enabled',
    rps: null,
    p50_ms: null,
    p99_ms: null,
    ratio: startup.ratio,
    value: startup.medianMs,
    unit: `ms, spawn to first 200 (bare Fastify: ${startup.baselineMs} ms)`,
    target: '< 300 ms',
    met: startup.medianMs < 300,
  });
  const memory = await measureMemory(100_000);
  report({
    scenario: '8 memory store, 100 000 live authentications',
    rps: null,
    p50_ms: null,
    p99_ms: null,
    ratio: null,
    value: memory,
    unit: 'MB of heap',
    target: '< 100 MB',
    met: memory < 100,
  });
}

const results = join(root, 'bench', 'results');
mkdirSync(results, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const document = `${JSON.stringify(rows, null, 2)}\n`;
writeFileSync(join(results, `${stamp}${quick ? '-quick' : ''}.json`), document);
// latest.json is the full run the README quotes: a quick run (fewer, shorter rounds) writes only its own file.
if (!quick) writeFileSync(join(results, 'latest.json'), document);

const cell = (value: number | null | undefined) =>
  value === null || value === undefined ? '' : String(value);
console.log('\n| scenario | rps | p50 ms | p99 ms | ratio | vs_peer | value | target | met |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const value = r.value === undefined ? '' : `${r.value} ${r.unit ?? ''}`;
  const vsPeer = [
    ...Object.entries(r.vs_peer ?? {}).map(([name, head]) => `${head} (${name})`),
    ...(r.vs_bare_proxy === undefined ? [] : [`vs_bare_proxy ${r.vs_bare_proxy}`]),
    ...(r.vs_nginx === undefined ? [] : [`vs_nginx ${r.vs_nginx}`]),
  ].join(', ');
  console.log(
    `| ${r.scenario} | ${cell(r.rps)} | ${cell(r.p50_ms)} | ${cell(r.p99_ms)} | ${cell(r.ratio)} | ${vsPeer} | ${value} | ${r.target} | ${r.met ? 'yes' : 'no'} |`,
  );
}
console.log(
  `\n${quick ? 'quick' : 'full'} run: ${settings.rounds} round(s) of ${settings.duration} s per scenario, ${settings.connections} connections`,
);
process.exit(0);
