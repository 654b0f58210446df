import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = [
  process.execPath,
  '--experimental-strip-types',
  '--disable-warning=ExperimentalWarning',
  join(ROOT, 'bin', 'portcullis.ts'),
];

/** What a finished CLI process printed. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment a spawned CLI gets: this one without any FLIPT_* variable, plus `extra`; and gRPC on a port the
 * system picks (`FLIPT_SERVER_GRPC_PORT=0`, unless `extra` sets it), so that servers started by tests at the same
 * time do not all ask for 9000.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLIPT_')));
  return { ...env, FLIPT_SERVER_GRPC_PORT: '0', ...extra };
}

/** Collects what a child process prints, and how it ends. */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `portcullis <args>` to completion. */
export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const [command = '', ...prefix] = CLI;
  const child = spawn(command, [...prefix, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
  });
  return collect(child);
}

/** Starts `portcullis <args>`, for a test that signals it while it runs. */
export function spawnCli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): { readonly child: ChildProcess; readonly done: Promise<CliResult> } {
  const [command = '', ...prefix] = CLI;
  const child = spawn(command, [...prefix, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
  });
  return { child, done: collect(child) };
}

/** A CLI process whose standard output or standard error has no reader: what `portcullis … | head -1` leaves. */
export interface ClosedPipeRun {
  readonly child: ChildProcess;
  /** Resolves when the process has ended, with what it printed on the stream that was left open. */
  readonly done: Promise<CliResult>;
}

/**
 * Starts `portcullis <args>` with `closed` (its standard output or standard error) closed from the start, so
 * that every write to it fails as a write after `head` has exited does: deterministically, whatever the size of
 * the output and of the pipe's buffer.
 */
export function runCliWithClosedPipe(
  closed: 'stdout' | 'stderr',
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): ClosedPipeRun {
  const [command = '', ...prefix] = CLI;
  const child = spawn(command, [...prefix, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
  });
  child[closed]?.destroy();
  return { child, done: collect(child) };
}

/** A `portcullis serve` process that has reported where it listens. */
export interface Served {
  readonly address: string;
  readonly child: ChildProcess;
  /** Standard output so far. */
  stdout(): string;
  /** Sends `signal` and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
}

/** Starts `portcullis serve --config <config>` and waits for its "listening" log line (or its exit). */
export function startServe(config: string, options: { env?: Record<string, string> } = {}): Promise<Served> {
  const [command = '', ...prefix] = CLI;
  const child = spawn(command, [...prefix, 'serve', '--config', config], {
    cwd: ROOT,
    env: cleanEnv(options.env),
  });
  const done = collect(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /"address":"([^"]+)","methods"/.exec(seen);
      if (match?.[1]) {
        resolve({
          address: match[1],
          child,
          stdout: () => seen,
          stop: (signal = 'SIGTERM') => {
            child.kill(signal);
            return done;
          },
        });
      }
    });
    done.then((result) => reject(Object.assign(new Error(`serve exited with ${result.code}`), { result })));
  });
}
