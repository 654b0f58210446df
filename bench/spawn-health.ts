import { spawn } from 'node:child_process';

/**
 * Milliseconds from spawning `node <args>` to the first 200 from its `/health`. The process must log its address
 * (`"address":"http://..."`, as `portcullis serve` does) on standard output; it is stopped afterwards.
 */
export async function timeToHealth(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    // Free ports, HTTP and gRPC: a port taken by anything else on the machine must not stop a start.
    env: {
      ...process.env,
      FLIPT_SERVER_HTTP_PORT: '0',
      FLIPT_SERVER_GRPC_PORT: '0',
      FLIPT_SERVER_HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /"address":"([^"]+)"/.exec(seen);
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${seen}`)));
  });
  for (;;) {
    const ok = await fetch(`${address}/health`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ok) break;
  }
  const elapsed = performance.now() - started;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  return elapsed;
}

export const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
