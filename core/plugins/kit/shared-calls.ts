/**
 * One call per key at a time: a caller asking for a key whose call is in flight gets that call's answer. For a
 * secret store, the keys of one secret fetched together (`${secret:s:db:user}`, `${secret:s:db:password}`) come from
 * one read, so from one version of it, and the store is asked once. The call runs with the first caller's
 * arguments (its abort signal among them): callers sharing it are those of one resolution, with the same time limit.
 */
export function sharedCalls<T>(): (key: string, call: () => Promise<T>) => Promise<T> {
  const inFlight = new Map<string, Promise<T>>();
  return (key, call) => {
    const running = inFlight.get(key);
    if (running !== undefined) return running;
    const started = call().finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };
}
