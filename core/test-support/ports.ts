import { createServer } from 'node:net';

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Ports handed out: 20 000 up to Linux's ephemeral range (32 768 and up). */
const LOWEST = 20_000;
const RANGE = 12_000;
/** Each vitest worker slot draws from its own slice, so two test files running at once never pick the same port. */
const SLICE = 500;

/**
 * The ports this process may pick from. Vitest gives each worker slot a `VITEST_POOL_ID` (1 to maxWorkers) and runs
 * one test file at a time in it: a slice per slot means a port another test file is about to bind cannot be picked
 * here between its check and its bind. Slots beyond 24 share slices again; outside vitest, the whole range.
 */
function slice(): { readonly first: number; readonly size: number } {
  const slot = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(slot) || slot < 1) return { first: LOWEST, size: RANGE };
  return { first: LOWEST + (((slot - 1) * SLICE) % RANGE), size: SLICE };
}

/**
 * A free TCP port on loopback (free when asked; the server takes it right after), other than those in `besides`.
 * Picked at random below Linux's ephemeral range (32768 and up), where the operating system hands out the local
 * ports of outgoing connections and of `listen(0)`: a port chosen there can be taken by any connection before the
 * server binds it. Within a vitest run, each worker slot picks from its own slice of that range.
 */
export async function freePort(besides: readonly number[] = []): Promise<number> {
  const { first, size } = slice();
  // From a random place, every port of the slice in turn: a free one is found if there is one.
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = first + ((start + i) % size);
    if (besides.includes(port)) continue;
    if ((await bindable(port, '127.0.0.1')) && (await bindable(port, '::1'))) return port;
  }
  throw new Error(`no free port found on loopback between ${first} and ${first + size - 1}`);
}

/** Whether `error` says a port was already taken (Node's EADDRINUSE, or a server's own log saying so). */
export function isPortClash(error: unknown): boolean {
  return /EADDRINUSE|Address already in use/.test(String((error as Error | undefined)?.message));
}

/**
 * Runs `attempt` again (up to five times) when it fails because a port it was given was taken in the meantime by
 * another process: for set-ups that must know their port before starting (a callback URL registered first).
 */
export async function retryOnPortClash<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (tries >= 5 || !isPortClash(error)) throw error;
    }
  }
}
