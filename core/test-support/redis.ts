import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, isPortClash, retryOnPortClash } from './ports.ts';

const run = promisify(execFile);

const folders: string[] = [];
process.once('exit', () => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A folder for a server's data, removed when the test process exits (servers outlive single tests). */
function serverDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-redis-'));
  folders.push(dir);
  return dir;
}

/** TLS material for a Redis server (PEM files). */
export interface RedisTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** A `redis-server` process started for a test. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** Sends `signal` (SIGKILL by default) and waits for the process to end. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the same server again (same port and data folder). */
  restart(): Promise<void>;
}

export interface RedisOptions {
  readonly tls?: RedisTls;
  /** Keep data across restarts, written to disk on every command. */
  readonly persistent?: boolean;
  /** Start as a cluster node, its cluster bus on a port of its own (checked free like the client port). */
  readonly cluster?: boolean;
  readonly extraArgs?: readonly string[];
}

async function redisCli(args: readonly string[], tls?: RedisTls, timeout = 10_000): Promise<string> {
  const tlsArgs = tls ? ['--tls', '--cacert', tls.caFile] : [];
  const { stdout } = await run('redis-cli', [...tlsArgs, ...args], { timeout });
  return stdout;
}

/** The last lines a server printed, to say why it stopped. */
function lastLines(child: ChildProcess): () => string {
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-2_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => log.trim().split('\n').slice(-5).join('\n');
}

/**
 * Waits until the server answers PING, or says why it ended. Each PING waits 1 s at most: a port taken by another
 * process may accept the connection and never answer.
 */
async function waitForPing(
  port: number,
  tls: RedisTls | undefined,
  child: ChildProcess,
  log: () => string,
): Promise<void> {
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (ended())
      throw new Error(
        `redis-server on port ${port} exited with ${child.exitCode ?? child.signalCode}:\n${log()}`,
      );
    const pong = await redisCli(['-h', '127.0.0.1', '-p', String(port), 'PING'], tls, 1_000).catch(() => '');
    if (pong.trim() === 'PONG' && !ended()) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING:\n${log()}`);
    await sleep(50);
  }
}

function serverArgs(options: RedisOptions, dir: string, port: number, busPort: number | undefined): string[] {
  const { tls } = options;
  return [
    ...(tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          tls.certFile,
          '--tls-key-file',
          tls.keyFile,
        ]
      : ['--port', String(port)]),
    ...(tls ? ['--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no'] : []),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--protected-mode',
    'no',
    ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    // Without --cluster-port the bus is the client port + 10 000: unchecked, and in the ephemeral range (32 768 and
    // up) for most client ports, where any outgoing connection may hold it.
    ...(busPort === undefined
      ? []
      : [
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          '2000',
        ]),
    ...(options.extraArgs ?? []),
  ];
}

/**
 * Starts `redis-server` on 127.0.0.1 and a free port, in its own folder, and stops it when the test file ends
 * (the caller registers `kill` in `afterAll`). A port taken between its check and the server's bind is picked
 * again (up to five times); `restart` keeps the port. Needs `redis-server` and `redis-cli` on the PATH (`.ci/run`
 * installs them).
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = serverDir();
  let child: ChildProcess | undefined;
  const start = async (port: number, busPort: number | undefined) => {
    const current = spawn('redis-server', serverArgs(options, dir, port, busPort), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = current;
    const log = lastLines(current);
    const spawned = new Promise<never>((_, reject) => {
      current.once('error', (error) =>
        reject(
          new Error(`cannot start redis-server (is it installed? .ci/run installs it): ${error.message}`),
        ),
      );
    });
    await Promise.race([spawned, waitForPing(port, options.tls, current, log)]);
  };
  const [port, busPort] = await retryOnPortClash(async () => {
    const port = await freePort();
    const busPort = options.cluster ? await freePort([port]) : undefined;
    try {
      await start(port, busPort);
    } catch (error) {
      if (isPortClash(error)) rmSync(join(dir, 'nodes.conf'), { force: true });
      throw error;
    }
    return [port, busPort] as const;
  });
  return {
    host: '127.0.0.1',
    port,
    dir,
    async kill(signal = 'SIGKILL') {
      const current = child;
      if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill(signal);
      await exited;
    },
    restart: () => start(port, busPort),
  };
}

/** A Redis cluster of `size` masters (no replicas). */
export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  kill(): Promise<void>;
}

/** Starts `size` cluster-enabled servers and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < size; i++) nodes.push(await startRedis({ cluster: true }));
  const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
  await redisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
  const deadline = Date.now() + 15_000;
  for (const node of nodes) {
    for (;;) {
      const info = await redisCli(['-h', '127.0.0.1', '-p', String(node.port), 'CLUSTER', 'INFO']);
      if (info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error('the Redis cluster did not become ready');
      await sleep(100);
    }
  }
  return {
    nodes,
    async kill() {
      await Promise.all(nodes.map((node) => node.kill()));
    },
  };
}
