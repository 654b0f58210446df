import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchLike } from '../../core/plugins/kit/index.ts';
import { createLogger, SecretScrubber } from '../../core/test-support/internals.ts';
import { startTestProvider, type TestProvider } from '../../core/test-support/openid-provider.ts';
import type { OidcProviderConfig } from './config.ts';
import { OidcProvider } from './provider.ts';

const log = createLogger({ level: 'fatal', encoding: 'json', keys: {} }, new SecretScrubber(), {
  write: () => true,
});

let op: TestProvider;
beforeAll(async () => {
  op = await startTestProvider({
    clients: [{ client_id: 'c', client_secret: 's', redirect_uris: ['http://localhost:1/cb'] }],
  });
});
afterAll(() => op.close());

const config = (issuer: string): OidcProviderConfig => ({
  issuer_url: issuer,
  client_id: 'c',
  client_secret: 's',
  redirect_address: 'http://localhost:1',
  scopes: [],
  use_pkce: false,
  algorithms: [],
  fetch_extra_user_info: false,
  authorize_parameters: {},
  use_end_session_endpoint: false,
  allow_front_channel_logout: false,
});

/** The real fetch, counting discovery requests. */
function countingFetch(): { fetch: FetchLike; discoveries: () => number } {
  let discoveries = 0;
  return {
    fetch: (input, init) => {
      if (String(input).endsWith('/.well-known/openid-configuration')) discoveries++;
      return fetch(input, init);
    },
    discoveries: () => discoveries,
  };
}

describe('OidcProvider discovery', () => {
  it('fetches once for simultaneous logins, keeps it for cache_ttl, then fetches again', async () => {
    const counting = countingFetch();
    const provider = new OidcProvider('p', config(op.issuer), {
      fetch: counting.fetch,
      cacheTtlMs: 200,
      log,
    });
    const [a, b, c] = await Promise.all([
      provider.discovered(),
      provider.discovered(),
      provider.discovered(),
    ]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(counting.discoveries()).toBe(1);
    await provider.discovered();
    expect(counting.discoveries()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const refreshed = await provider.discovered();
    expect(counting.discoveries()).toBe(2);
    expect(refreshed).not.toBe(a);
  });

  it('after a failure, does not ask again at once: the same failure is answered until a retry is due', async () => {
    const counting = countingFetch();
    const unreachable = 'http://127.0.0.1:9';
    const provider = new OidcProvider('p', config(unreachable), {
      fetch: counting.fetch,
      cacheTtlMs: 60_000,
      log,
    });
    const first = await provider.discovered().catch((error: unknown) => error);
    const second = await provider.discovered().catch((error: unknown) => error);
    expect(first).toBeInstanceOf(Error);
    expect(second).toBe(first);
    expect(counting.discoveries()).toBe(1);
  });

  it('builds the end-session URL as Flipt does: id_token_hint and post_logout_redirect_uri only', async () => {
    const provider = new OidcProvider('p', config(op.issuer), { fetch, cacheTtlMs: 60_000, log });
    const url = new URL((await provider.endSessionUrl('id.token.here')) ?? '');
    expect(`${url.origin}${url.pathname}`).toBe(`${op.issuer}/session/end`);
    expect([...url.searchParams]).toEqual([
      ['id_token_hint', 'id.token.here'],
      ['post_logout_redirect_uri', 'http://localhost:1'],
    ]);
  });
});
