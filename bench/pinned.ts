import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/**
 * Which CPUs each side runs on: the load on the first, every server on the others, when the machine has two or more
 * and `taskset`. Unpinned, two identical servers compared head to head came out 1.07–1.31 apart on a two-core machine
 * (whichever shared a core with the load generator lost); pinned, both sides of every comparison get the same CPUs.
 */
const cpus = availableParallelism();
const taskset = cpus >= 2 && spawnSync('taskset', ['--version']).status === 0;
const pins = { load: '0', server: cpus === 2 ? '1' : `1-${cpus - 1}` } as const;

/** Who a process is in a comparison: the load generator, or a server (Redis and nginx included). */
export type Role = keyof typeof pins;

/** `command` (file and arguments) as run on `role`'s CPUs: behind `taskset -c`, when pinning is possible. */
export function pinned(command: readonly string[], role: Role): [string, ...string[]] {
  const [file, ...args] = taskset ? ['taskset', '-c', pins[role], ...command] : command;
  if (file === undefined) throw new Error('pinned: an empty command');
  return [file, ...args];
}

/**
 * A TypeScript script of the bench run by Node on `role`'s CPUs, from the repository's root, its stdout piped;
 * `nodeOptions` go to Node, before the script (`--cpu-prof`).
 */
export function node(
  script: string,
  args: readonly string[],
  role: Role,
  nodeOptions: readonly string[] = [],
): ChildProcess {
  const [file, ...rest] = pinned(
    [
      process.execPath,
      ...nodeOptions,
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      script,
      ...args,
    ],
    role,
  );
  return spawn(file, rest, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
}
