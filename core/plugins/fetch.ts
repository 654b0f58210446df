import type { FetchLike, FetchOptions } from './contracts.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

/** A `fetch` and what releases the connections it keeps alive. */
export interface ClosableFetch {
  readonly fetch: FetchLike;
  /** Closes the connection pool of this fetch (its own trust anchors' pool), if one was opened. */
  close(): Promise<void>;
}

/**
 * A `fetch` with its own trust anchors and timeout. undici is imported on first use, so a method that never
 * calls out costs nothing; a given CA replaces the system trust store for this fetch only, through a pool of its
 * own that {@link ClosableFetch.close} releases (its kept-alive sockets would otherwise outlive the plugin).
 */
export function createClosableFetch(options: FetchOptions = {}): ClosableFetch {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let ready: Promise<FetchLike> | undefined;
  let dispatcher: import('undici').Agent | undefined;
  let closed = false;
  const load = async (): Promise<FetchLike> => {
    const undici = await import('undici');
    dispatcher = options.ca === undefined ? undefined : new undici.Agent({ connect: { ca: options.ca } });
    return (input, init) =>
      undici.fetch(input as Parameters<typeof undici.fetch>[0], {
        ...(init as Parameters<typeof undici.fetch>[1]),
        ...(dispatcher === undefined ? {} : { dispatcher }),
        signal: init?.signal ?? AbortSignal.timeout(timeoutMs),
      }) as unknown as Promise<Response>;
  };
  return {
    fetch: async (input, init) => {
      // A plugin still finishing work after its close (a file read, then a request) must not open a new pool.
      if (closed) throw new TypeError('fetch failed: this plugin has been closed');
      ready ??= load();
      return (await ready)(input, init);
    },
    async close() {
      closed = true;
      if (ready === undefined) return;
      await ready.catch(() => undefined);
      // The method is closed: nothing of its own is in flight, and an idle TLS socket would wait for its peer.
      await dispatcher?.destroy();
    },
  };
}
