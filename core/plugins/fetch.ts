import { createRequire } from 'node:module';
import type { OutboundOutcome, OutboundRecorder } from '../observe/metrics.ts';
import type { FetchLike, FetchOptions } from './contracts.ts';

const require = createRequire(import.meta.url);

/** What a plugin's fetch uses of undici. */
export type UndiciFetch = Pick<typeof import('undici'), 'fetch' | 'Agent'>;

/**
 * undici's `fetch` and `Agent`, each from its own module. Its index also loads its mocks, cache stores, proxy
 * agents, interceptors, WebSocket and EventSource: 109 modules, ~50 ms, where these are 40 and ~30 ms — and a
 * Kubernetes method (or any `ca_path`) reads discovery through this at every start-up. The index's `fetch` differs
 * only in adding the caller's frames to a failure's stack. undici has no exports map, so its files can be named;
 * should a later version move them, the index serves (fetch.test.ts fails, to say so).
 */
export function loadUndici(): UndiciFetch {
  try {
    return {
      fetch: (require('undici/lib/web/fetch/index.js') as UndiciFetch).fetch,
      Agent: require('undici/lib/dispatcher/agent.js') as UndiciFetch['Agent'],
    };
  } catch {
    return require('undici') as UndiciFetch;
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** A `fetch` and what releases the connections it keeps alive. */
export interface ClosableFetch {
  readonly fetch: FetchLike;
  /** Closes the connection pool of this fetch (its own trust anchors' pool), if one was opened. */
  close(): Promise<void>;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/** The `host:port` a request goes to (the scheme's port when the URL has none); `invalid` for no URL at all. */
export function hostOf(input: string | URL | Request): string {
  let url: URL;
  try {
    url = input instanceof URL ? input : new URL(typeof input === 'string' ? input : input.url);
  } catch {
    return 'invalid';
  }
  return `${url.hostname}:${url.port || DEFAULT_PORTS[url.protocol] || ''}`;
}

/** How a request that did not answer ended: its time limit (or the caller's), or any other failure. */
const failure = (error: unknown): OutboundOutcome =>
  (error as { name?: unknown } | null)?.name === 'TimeoutError' ? 'timeout' : 'error';

/** A response's status class; a status fetch should never give (below 100, above 599) is an `error`. */
const statusClass = (status: number): OutboundOutcome =>
  status >= 100 && status < 600 ? (`${Math.floor(status / 100)}xx` as OutboundOutcome) : 'error';

/**
 * `fetch` with each request recorded in `record`: its `host:port`, the response's status class (or `error`, or
 * `timeout`), and the time to the response head (the body is the caller's to read).
 */
function recorded(fetch: FetchLike, record: OutboundRecorder): FetchLike {
  return async (input, init) => {
    const host = hostOf(input);
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      record(host, failure(error), (performance.now() - started) / 1000);
      throw error;
    }
    record(host, statusClass(response.status), (performance.now() - started) / 1000);
    return response;
  };
}

/**
 * A `Request` as the URL and options it holds (`init` over them), for undici's `fetch`, which does not take Node's
 * own `Request` class (a copy of another undici).
 */
function asUrlAndInit(
  input: string | URL | Request,
  init: RequestInit | undefined,
): [string | URL, RequestInit | undefined] {
  if (typeof input === 'string' || input instanceof URL) return [input, init];
  const { body } = input;
  return [
    input.url,
    {
      method: input.method,
      headers: input.headers,
      redirect: input.redirect,
      signal: input.signal,
      ...(body !== null && { body, duplex: 'half' }),
      ...init,
    } as RequestInit,
  ];
}

/**
 * A `fetch` with its own trust anchors and timeout. undici is imported on first use, so a method that never
 * calls out costs nothing; a given CA replaces the system trust store for this fetch only, through a pool of its
 * own that {@link ClosableFetch.close} releases (its kept-alive sockets would otherwise outlive the plugin). With
 * `record`, every request is counted and timed by host (`portcullis_outbound_requests_total`, ...).
 */
export function createClosableFetch(options: FetchOptions = {}, record?: OutboundRecorder): ClosableFetch {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let ready: Promise<FetchLike> | undefined;
  let dispatcher: import('undici').Agent | undefined;
  let closed = false;
  const load = async (): Promise<FetchLike> => {
    const undici = loadUndici();
    dispatcher = options.ca === undefined ? undefined : new undici.Agent({ connect: { ca: options.ca } });
    const fetch: FetchLike = (input, init) => {
      const [target, given] = asUrlAndInit(input, init);
      const limit = AbortSignal.timeout(timeoutMs);
      return undici.fetch(target, {
        ...(given as Parameters<typeof undici.fetch>[1]),
        ...(dispatcher === undefined ? {} : { dispatcher }),
        signal: given?.signal ? AbortSignal.any([given.signal, limit]) : limit,
      }) as unknown as Promise<Response>;
    };
    return record === undefined ? fetch : recorded(fetch, record);
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
