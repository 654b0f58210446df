import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve as resolvePath } from 'node:path';
import Docker from 'dockerode';
import { lock } from 'proper-lockfile';
import { isAlive } from './process.ts';

/** The engine the suite talks to: one given by `DOCKER_HOST`, or a private `dockerd` this run started. */
export interface Engine {
  /** The `DOCKER_HOST` value for clients (`unix:///…/docker.sock`). */
  readonly host: string;
  readonly docker: Docker;
  /** True when this run started the daemon (and `stop` ends it). */
  readonly private: boolean;
  /**
   * Ends this run's use of the engine. On a private engine that no other live run uses, `whenLast` runs first
   * (under the engine's lock: tidying that would hurt a run still going), then the daemon stops.
   */
  stop(whenLast?: (docker: Docker) => Promise<void>): Promise<void>;
}

/**
 * Where the private engine keeps its state: images survive between runs there, so that a second run builds nothing.
 * `PORTCULLIS_CONFORMANCE_HOME`, else `~/.cache/portcullis/conformance`.
 */
export function conformanceHome(): string {
  // Absolute: dockerd wants absolute roots, and the socket is named by this path.
  return resolvePath(
    process.env.PORTCULLIS_CONFORMANCE_HOME ?? join(homedir(), '.cache', 'portcullis', 'conformance'),
  );
}

function dockerFor(host: string): Docker {
  const url = URL.parse(host);
  if (url === null)
    throw new Error(`DOCKER_HOST must be unix:///path/to/docker.sock or tcp://host:port, not "${host}"`);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  }
  throw new Error(`DOCKER_HOST must be unix:///path/to/docker.sock or tcp://host:port, not "${host}"`);
}

async function answers(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

/**
 * The engine at `DOCKER_HOST` when it is set, else a private `dockerd` with its own `--data-root`, `--exec-root`
 * and socket under {@link conformanceHome}. A daemon left running by a run that was killed is reused (its pid file
 * says where); one that does not answer is stopped and started again.
 *
 * The private daemon is shared by the runs on the machine: starting it, registering a run and stopping it happen
 * under a lock (`engine.lock`), so that two runs starting together use one daemon, and the last run to finish stops
 * it. It runs with `--bridge=none` so that it never touches another engine's `docker0`: the suite's containers live
 * on networks of their own, and builds use the host's network.
 *
 * @throws Error when `DOCKER_HOST` is not a Docker address or does not answer, when `dockerd` is not installed, or
 *   when it does not answer within `timeoutMs` (its log's last lines are in the message).
 */
export async function openEngine(options: { timeoutMs?: number } = {}): Promise<Engine> {
  const given = process.env.DOCKER_HOST;
  if (given !== undefined && given !== '') {
    if (process.env.DOCKER_TLS_VERIFY) {
      throw new Error(
        'DOCKER_TLS_VERIFY is set: an engine over TLS is not supported; give a unix socket or plain tcp://',
      );
    }
    const docker = dockerFor(given);
    if (!(await answers(docker)))
      throw new Error(`the Docker engine at DOCKER_HOST=${given} does not answer`);
    return { host: given, docker, private: false, stop: async () => {} };
  }
  const home = conformanceHome();
  mkdirSync(join(home, 'docker'), { recursive: true });
  return withEngineLock(home, async () => {
    const pid = await startDaemon(home, options.timeoutMs ?? 30_000);
    return privateEngine(home, pid);
  });
}

/** Runs `task` holding the private engine's lock (a run that died holding it loses it after 10 s). */
async function withEngineLock<T>(home: string, task: () => Promise<T>): Promise<T> {
  const release = await lock(home, {
    lockfilePath: join(home, 'engine.lock'),
    stale: 10_000,
    retries: { retries: 600, minTimeout: 100, maxTimeout: 200 },
  });
  try {
    return await task();
  } finally {
    await release();
  }
}

/** Whether `pid` is a dockerd on this data root (a stale pid file may name any process by now). */
function isOurDaemon(pid: number, root: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return basename(argv[0] ?? '') === 'dockerd' && argv.includes(`--data-root=${root}`);
  } catch {
    return false;
  }
}

/** The private daemon's paths under `home`. */
function paths(home: string) {
  const socket = join(home, 'docker.sock');
  return {
    root: join(home, 'docker'),
    // containerd's shim sockets live under the exec root; a unix socket path must stay under 108 bytes.
    execRoot: join(home, 'x'),
    socket,
    host: `unix://${socket}`,
    pidFile: join(home, 'dockerd.pid'),
    logFile: join(home, 'dockerd.log'),
    users: join(home, 'users'),
  };
}

/** The running daemon's pid, started when none answers. Called under the engine lock. */
async function startDaemon(home: string, timeoutMs: number): Promise<number> {
  const { root, execRoot, socket, host, pidFile, logFile } = paths(home);
  const docker = dockerFor(host);
  const previous = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (previous > 0 && isOurDaemon(previous, root)) {
    if (await answers(docker)) return previous;
    await stopDaemon(previous);
  }
  // Left by a daemon that was killed; dockerd refuses to start while its pid file names a live process.
  rmSync(pidFile, { force: true });
  if (spawnSync('dockerd', ['--version']).error !== undefined) {
    throw new Error(
      'no Docker engine: DOCKER_HOST is not set and dockerd is not installed (Debian: apt-get install docker.io)',
    );
  }
  rmSync(socket, { force: true });
  const log = openSync(logFile, 'w');
  const daemon: ChildProcess = spawn(
    'dockerd',
    [
      `--data-root=${root}`,
      `--exec-root=${execRoot}`,
      `--pidfile=${pidFile}`,
      `--host=${host}`,
      '--bridge=none',
      '--log-level=warn',
    ],
    // A process group of its own: a Ctrl-C in the terminal reaches the runner, which stops the daemon after
    // removing what the run created, instead of the daemon stopping first under the runner's feet.
    { detached: true, stdio: ['ignore', log, log] },
  );
  daemon.unref();
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(docker))) {
    if (daemon.exitCode !== null || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
      if (daemon.exitCode === null) await stopDaemon(daemon.pid ?? 0);
      unmountUnder(home);
      throw new Error(`the private dockerd did not start (${logFile}):\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return daemon.pid ?? 0;
}

/**
 * A private engine: this run is registered under `users/` (by pid), and its `stop` stops the daemon only when no
 * other live run is registered (a second terminal's run must not lose its engine when the first ends).
 */
function privateEngine(home: string, pid: number): Engine {
  const { host, users, root } = paths(home);
  mkdirSync(users, { recursive: true });
  const mine = join(users, String(process.pid));
  writeFileSync(mine, '');
  const docker = dockerFor(host);
  return {
    host,
    docker,
    private: true,
    stop: (whenLast) =>
      withEngineLock(home, async () => {
        rmSync(mine, { force: true });
        const others = readdirSync(users).filter((name) => {
          if (isAlive(Number(name))) return true;
          rmSync(join(users, name), { force: true }); // a run that was killed
          return false;
        });
        if (others.length === 0 && isOurDaemon(pid, root)) {
          await whenLast?.(docker).catch(() => {});
          await stopDaemon(pid);
          unmountUnder(home);
        }
      }),
  };
}

/**
 * dockerd leaves mounts behind when it stops (its data root, bind-mounted onto itself, and the default network
 * namespace under the exec root); they would keep the home from being removed. Lazily unmounted, deepest first.
 */
function unmountUnder(home: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replaceAll('\\040', ' ') ?? '')
    .filter((target) => target === home || target.startsWith(`${home}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) spawnSync('umount', ['-l', target]);
}

/** SIGTERM, then up to 20 s for dockerd to stop its containers and exit; SIGKILL after that. */
async function stopDaemon(pid: number): Promise<void> {
  if (pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}
