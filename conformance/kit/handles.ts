/**
 * Leak checks: what keeps the event loop alive (timers, sockets, servers, file handles), counted by kind, before
 * and after a plugin is created and closed.
 */

/** How many resources of each kind `process.getActiveResourcesInfo()` lists. */
export type ResourceCounts = ReadonlyMap<string, number>;

/** The resources keeping the event loop alive now, counted by kind (`Timeout`, `TCPSocketWrap`, `FSReqPromise`…). */
export function activeResources(): ResourceCounts {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** The kinds with more resources now than in `before`, each with how many more (empty when none). */
export function newResources(before: ResourceCounts, now: ResourceCounts = activeResources()): string[] {
  const added: string[] = [];
  for (const [kind, count] of now) {
    const extra = count - (before.get(kind) ?? 0);
    if (extra > 0) added.push(`${extra} × ${kind}`);
  }
  return added;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Waits up to `settleMs` for the resources opened since `before` to go (a socket finishing its close, a timer
 * about to fire), and throws naming those that stay.
 */
export async function assertNoNewResources(
  before: ResourceCounts,
  what: string,
  settleMs = 1000,
): Promise<void> {
  const deadline = Date.now() + settleMs;
  let added = newResources(before);
  while (added.length > 0 && Date.now() < deadline) {
    await sleep(20);
    added = newResources(before);
  }
  if (added.length > 0) {
    throw new Error(`${what} left resources keeping the event loop alive: ${added.join(', ')}`);
  }
}
