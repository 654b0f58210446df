/**
 * Issue 20: forward-auth (`/auth/v1/forward`) and the gateway's own handling of X-Forwarded-* and X-Original-*
 * headers, through app.inject: never a 5xx (see core/test-support/fuzz.ts).
 */
import fc from 'fast-check';
import { it } from 'vitest';
import { fuzz, fuzzTimeout, headerValue, notServerError, urlText } from '../test-support/fuzz.ts';
import { serveForTest } from '../test-support/server.ts';
import { startUpstream } from '../test-support/upstream.ts';

const HEADERS = [
  'x-forwarded-method',
  'x-original-method',
  'x-forwarded-host',
  'x-forwarded-uri',
  'x-original-uri',
  'x-original-url',
  'x-forwarded-proto',
  'x-forwarded-prefix',
  'x-forwarded-for',
  'x-forwarded-port',
  'x-real-ip',
  'forwarded',
  'origin',
  'referer',
  'host',
  'accept',
  'sec-fetch-site',
  'authorization',
  'cookie',
];
const values = fc.oneof(
  headerValue(40),
  urlText(20).map((path) => `/${path}`),
  fc.constantFrom(
    'GET',
    'POST',
    'get',
    'CONNECT',
    '',
    'https',
    'http://evil.example',
    'text/html',
    'Bearer admin-secret',
  ),
  fc.constantFrom(
    '/evaluate/v1/boolean',
    '/auth/v1/self',
    '//x',
    '/a/../b',
    'flipt_client_token=admin-secret',
  ),
);
const headers = fc.dictionary(fc.constantFrom(...HEADERS), values, { maxKeys: 8 });
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  url: fc.oneof(
    fc.constantFrom('/auth/v1/forward', '/auth/v1/forward?redirect=true'),
    urlText(24).map((query) => `/auth/v1/forward?${query}`),
    // inject reads the URL with WHATWG rules (a leading backslash reads as a host); the live run sends such paths raw.
    urlText(24).map((path) => `/public/${path}`),
    urlText(24).map((path) => `/p/${path}`),
  ),
  headers,
});

it(
  'forward-auth and the gateway: arbitrary X-Forwarded-* and X-Original-* headers never get a 5xx',
  async () => {
    const upstream = await startUpstream();
    const t = await serveForTest({
      gateway: {
        upstream: upstream.url,
        trusted_proxies: ['127.0.0.1'],
        sections: { public: { prefixes: ['/public'], exclude: true } },
      },
      authentication: {
        required: true,
        exclude: { evaluation: true },
        session: { domain: 'localhost', csrf: { key: 'fuzz-csrf-key-0123456789abcdef' } },
        methods: { token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } } },
      },
    });
    const { app } = t.server;
    await fuzz(
      'forward-auth headers',
      request,
      async ({ method, url, headers }) => {
        await notServerError(app, { method, url, headers });
        upstream.received.length = 0;
      },
      1000,
    );
  },
  fuzzTimeout(30_000),
);
