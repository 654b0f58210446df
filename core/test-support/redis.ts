import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

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

/** A free TCP port on loopback (free when asked; the server takes it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
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
  readonly extraArgs?: readonly string[];
}

async function redisCli(args: readonly string[], tls?: RedisTls): Promise<string> {
  const tlsArgs = tls ? ['--tls', '--cacert', tls.caFile] : [];
  const { stdout } = await run('redis-cli', [...tlsArgs, ...args], { timeout: 10_000 });
  return stdout;
}

async function waitForPing(port: number, tls: RedisTls | undefined, process: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (process.exitCode !== null)
      throw new Error(`redis-server on port ${port} exited with ${process.exitCode}`);
    const pong = await redisCli(['-h', '127.0.0.1', '-p', String(port), 'PING'], tls).catch(() => '');
    if (pong.trim() === 'PONG') return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
    await sleep(50);
  }
}

/**
 * Starts `redis-server` on 127.0.0.1 and a free port, in its own folder, and stops it when the test file ends
 * (the caller registers `kill` in `afterAll`). Needs `redis-server` and `redis-cli` on the PATH (`.ci/run` installs
 * them).
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = serverDir();
  const { tls } = options;
  const args = [
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
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    child.on('error', (error) => {
      throw new Error(`cannot start redis-server (is it installed? .ci/run installs it): ${error.message}`);
    });
    await waitForPing(port, tls, child);
  };
  await start();
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
    restart: start,
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
  for (let i = 0; i < size; i++) {
    const configDir = serverDir();
    nodes.push(
      await startRedis({
        extraArgs: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(configDir, 'nodes.conf'),
          '--cluster-node-timeout',
          '2000',
        ],
      }),
    );
  }
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
