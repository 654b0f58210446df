import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';

/** The engine the suite talks to: one given by `DOCKER_HOST`, or a private `dockerd` this run started. */
export interface Engine {
  /** The `DOCKER_HOST` value for clients (`unix:///…/docker.sock`). */
  readonly host: string;
  readonly docker: Docker;
  /** True when this run started the daemon (and `stop` ends it). */
  readonly private: boolean;
  /** The daemon's log file, for a failure report (private engine only). */
  readonly logFile?: string;
  stop(): Promise<void>;
}

/**
 * Where the private engine keeps its state: images survive between runs there, so that a second run builds nothing.
 * `PORTCULLIS_CONFORMANCE_HOME`, else `~/.cache/portcullis/conformance`.
 */
export function conformanceHome(): string {
  return process.env.PORTCULLIS_CONFORMANCE_HOME ?? join(homedir(), '.cache', 'portcullis', 'conformance');
}

function dockerFor(host: string): Docker {
  const url = new URL(host);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  }
  throw new Error(`DOCKER_HOST must be unix://… or tcp://…, not "${host}"`);
}

async function answers(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The engine at `DOCKER_HOST` when it is set, else a private `dockerd` with its own `--data-root`, `--exec-root`
 * and socket under {@link conformanceHome}. A daemon left running by a run that was killed is reused (its pid file
 * says where); one that does not answer is stopped and started again.
 *
 * The private daemon runs with `--bridge=none` so that it never touches another engine's `docker0`: the suite's
 * containers live on networks of their own, and builds use the host's network.
 *
 * @throws Error when `DOCKER_HOST` does not answer, when `dockerd` is not installed, or when it does not answer
 *   within `timeoutMs` (its log's last lines are in the message).
 */
export async function openEngine(options: { timeoutMs?: number } = {}): Promise<Engine> {
  const given = process.env.DOCKER_HOST;
  if (given !== undefined && given !== '') {
    const docker = dockerFor(given);
    if (!(await answers(docker)))
      throw new Error(`the Docker engine at DOCKER_HOST=${given} does not answer`);
    return { host: given, docker, private: false, stop: async () => {} };
  }
  const home = conformanceHome();
  const root = join(home, 'docker');
  // containerd's shim sockets live under the exec root; a unix socket path must stay under 108 bytes.
  const execRoot = join(home, 'x');
  const socket = join(home, 'docker.sock');
  const pidFile = join(home, 'dockerd.pid');
  const logFile = join(home, 'dockerd.log');
  const host = `unix://${socket}`;
  const docker = dockerFor(host);
  mkdirSync(root, { recursive: true });

  const previous = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (previous > 0 && alive(previous)) {
    if (await answers(docker)) return privateEngine(host, docker, previous, logFile);
    await stopDaemon(previous);
  }

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
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!(await answers(docker))) {
    if (daemon.exitCode !== null || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
      if (daemon.exitCode === null) daemon.kill('SIGTERM');
      throw new Error(`the private dockerd did not start (${logFile}):\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return privateEngine(host, docker, daemon.pid ?? 0, logFile);
}

/**
 * A private engine shared by the runs on this machine: each registers its pid under `users/`, and the last one to
 * finish stops the daemon (a second terminal's run must not lose its engine when the first ends).
 */
function privateEngine(host: string, docker: Docker, pid: number, logFile: string): Engine {
  const users = join(conformanceHome(), 'users');
  mkdirSync(users, { recursive: true });
  const mine = join(users, String(process.pid));
  writeFileSync(mine, '');
  return {
    host,
    docker,
    private: true,
    logFile,
    async stop() {
      rmSync(mine, { force: true });
      const others = readdirSync(users).filter((name) => {
        if (alive(Number(name))) return true;
        rmSync(join(users, name), { force: true }); // a run that was killed
        return false;
      });
      if (others.length === 0) await stopDaemon(pid);
    },
  };
}

/** SIGTERM, then up to 20 s for dockerd to stop its containers and exit; SIGKILL after that. */
async function stopDaemon(pid: number): Promise<void> {
  if (pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}
