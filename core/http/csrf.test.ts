import { describe, expect, it } from 'vitest';
import { bearer, serveForTest } from '../test-support/server.ts';

const config = (csrf: Record<string, unknown>) => ({
  authentication: {
    required: true,
    session: { domain: 'flipt.example.com', csrf },
    methods: { token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } } },
  },
});

/** A state-changing request (creating a token) with the given browser headers, from an authenticated caller. */
const post = (t: Awaited<ReturnType<typeof serveForTest>>, headers: Record<string, string>) =>
  t.fetch('/auth/v1/method/token', {
    method: 'POST',
    headers: { ...bearer('admin-secret'), 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name: 'csrf-test' }),
  });

describe('cross-origin protection', () => {
  it('refuses a cross-site state-changing request with 403 and says why', async () => {
    const t = await serveForTest(config({ key: 'some-key', trusted_origins: ['https://admin.example.com'] }));
    for (const site of ['cross-site', 'same-site']) {
      const refused = await post(t, { 'sec-fetch-site': site, origin: 'https://evil.example.com' });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await refused.text()).toBe('cross-origin request detected from Sec-Fetch-Site header\n');
    }
  });

  it('lets the same request through from a trusted origin, from the same origin, and from non-browsers', async () => {
    const t = await serveForTest(config({ key: 'some-key', trusted_origins: ['https://admin.example.com'] }));
    const host = new URL(t.server.address).host;
    expect(
      (await post(t, { 'sec-fetch-site': 'cross-site', origin: 'https://admin.example.com' })).status,
    ).toBe(200);
    expect(
      (await post(t, { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example.com' })).status,
    ).toBe(200);
    expect((await post(t, { 'sec-fetch-site': 'none' })).status).toBe(200);
    expect((await post(t, { origin: `http://${host}` })).status).toBe(200);
    expect((await post(t, {})).status).toBe(200);
  });

  it('refuses, without Sec-Fetch-Site, an Origin that is not the Host', async () => {
    const t = await serveForTest(config({ key: 'some-key' }));
    for (const origin of ['https://evil.example.com', 'null']) {
      const refused = await post(t, { origin });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toBe(
        'cross-origin request detected, and/or browser is out of date: Sec-Fetch-Site is missing, and Origin does not match Host\n',
      );
    }
  });

  it('never stops GET, HEAD or OPTIONS, and is off without a key', async () => {
    const on = await serveForTest(config({ key: 'some-key' }));
    const get = await on.fetch('/auth/v1/self', {
      headers: { ...bearer('admin-secret'), 'sec-fetch-site': 'cross-site' },
    });
    expect(get.status).toBe(200);
    const off = await serveForTest(config({}));
    expect(
      (await post(off, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example.com' })).status,
    ).toBe(200);
  });

  it('runs before authentication, and skips invalid trusted origins with a warning', async () => {
    const t = await serveForTest(
      config({
        key: 'k',
        trusted_origins: ['https://ok.example.com', 'not a url', 'https://x.example.com/path'],
      }),
    );
    const anonymous = await t.fetch('/auth/v1/method/token', {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(anonymous.status).toBe(403);
    expect(
      t.logs
        .filter(
          (l) => l.msg === 'ignoring an invalid csrf.trusted_origins entry (expected scheme://host[:port])',
        )
        .map((l) => l.origin),
    ).toEqual(['not a url', 'https://x.example.com/path']);
  });
});
