/** Waiting for a condition, and keeping requests going while something changes. */

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `check` holds, asking every 20 ms; resolves with how long that took (milliseconds).
 *
 * @throws an error naming `what` when `withinMs` passes first.
 */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  withinMs: number,
  what = 'the condition',
): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > withinMs) throw new Error(`${what}: not so within ${withinMs} ms`);
    await sleep(20);
  }
  return Date.now() - started;
}

/** Requests kept going until stopped. */
export interface Load {
  /** Stops, waits for the requests in flight, and counts each outcome. */
  stop(): Promise<Record<string, number>>;
}

/**
 * Runs `concurrency` workers, each sending one request after another until stopped: worker `w`'s `n`-th request
 * is `request(w + n)`, whose outcome (a status, say) is counted; a request that throws counts as `error: <message>`.
 */
export function concurrentLoad(request: (i: number) => Promise<string>, concurrency = 8): Load {
  const outcomes = new Map<string, number>();
  let running = true;
  const worker = async (i: number) => {
    while (running) {
      const outcome = await request(i).catch((error: unknown) => `error: ${(error as Error).message}`);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      i += 1;
    }
  };
  const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return Object.fromEntries(outcomes);
    },
  };
}
