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

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on loopback (free when asked; the server takes it right after). Picked at random below Linux's
 * ephemeral range (32768 and up), where the operating system hands out the local ports of outgoing connections
 * and of `listen(0)`: a port chosen there can be taken by any connection before the server binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await bindable(port, '127.0.0.1')) && (await bindable(port, '::1').catch(() => true))) return port;
  }
  throw new Error('no free port found on loopback');
}

/**
 * Runs `attempt` again (up to five times) when it fails because a port it was given was taken in the meantime by
 * another test process: for set-ups that must know their port before starting (a callback URL registered first).
 */
export async function retryOnPortClash<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const message = String((error as Error).message);
      if (tries >= 5 || !/EADDRINUSE|Address already in use/.test(message)) throw error;
    }
  }
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
