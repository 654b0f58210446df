import type { FetchLike, FetchOptions } from './contracts.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A `fetch` with its own trust anchors and timeout. undici is imported on first use, so a method that never
 * calls out costs nothing; a given CA replaces the system trust store for this fetch only.
 */
export function createFetch(options: FetchOptions = {}): FetchLike {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let ready: Promise<FetchLike> | undefined;
  const load = async (): Promise<FetchLike> => {
    const undici = await import('undici');
    const dispatcher =
      options.ca === undefined ? undefined : new undici.Agent({ connect: { ca: options.ca } });
    return (input, init) =>
      undici.fetch(input as Parameters<typeof undici.fetch>[0], {
        ...(init as Parameters<typeof undici.fetch>[1]),
        ...(dispatcher === undefined ? {} : { dispatcher }),
        signal: init?.signal ?? AbortSignal.timeout(timeoutMs),
      }) as unknown as Promise<Response>;
  };
  return async (input, init) => {
    ready ??= load();
    return (await ready)(input, init);
  };
}
