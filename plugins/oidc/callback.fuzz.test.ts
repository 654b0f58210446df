/**
 * Issue 20: OIDC and GitHub callback query strings, through app.inject against configured providers (the in-process
 * OpenID provider, the fake GitHub): never a 5xx (see core/test-support/fuzz.ts). Half the inputs start a real login
 * first, so that the state matches and the code is exchanged with the provider.
 */
import fc from 'fast-check';
import { it } from 'vitest';
import { fuzz, fuzzTimeout, headerValue, notServerError, urlText } from '../../core/test-support/fuzz.ts';
import { startLoginWorld } from '../../core/test-support/login-world.ts';

const METHODS = ['oidc/google', 'oidc/nope', 'github'];
const KEYS = ['code', 'state', 'error', 'error_description', 'iss', 'session_state', 'scope', 'x'];

const pair = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KEYS) }, urlText(6)),
  fc.oneof(urlText(24), fc.constantFrom('', '%', 'http://localhost', 'access_denied')),
);
const input = fc.record({
  method: fc.constantFrom(...METHODS),
  login: fc.boolean(),
  /** Where the real state goes: first, last, twice, percent-encoded, or not at all. */
  stateAt: fc.constantFrom('first', 'last', 'twice', 'encoded', 'none'),
  pairs: fc.array(pair, { maxLength: 5 }),
  cookie: fc.constantFrom('login', 'none', 'other'),
  otherCookie: headerValue(30),
});

it(
  'OIDC and GitHub callbacks: arbitrary query strings and state cookies never get a 5xx',
  async () => {
    const { t } = await startLoginWorld({ github: {} });
    const { app } = t.server;
    await fuzz(
      'OIDC/GitHub callback query strings',
      input,
      async ({ method, login, stateAt, pairs, cookie, otherCookie }) => {
        const base = `/auth/v1/method/${method}`;
        let state = 'no-login';
        let stateCookie = '';
        if (login) {
          const started = await app.inject({ url: `${base}/authorize` });
          const url = (started.json() as { authorizeUrl?: string }).authorizeUrl;
          if (url !== undefined) {
            state = new URL(url).searchParams.get('state') ?? state;
            stateCookie = String(started.headers['set-cookie'] ?? '').split(';')[0] ?? '';
          }
        }
        const query = pairs.map(([k, v]) => `${k}=${v}`);
        const real = `state=${stateAt === 'encoded' ? encodeURIComponent(state).replace(/[-_]/g, (c) => `%${c.charCodeAt(0).toString(16)}`) : state}`;
        if (stateAt === 'first' || stateAt === 'twice' || stateAt === 'encoded') query.unshift(real);
        if (stateAt === 'last' || stateAt === 'twice') query.push(real);
        const headers =
          cookie === 'login' ? { cookie: stateCookie } : cookie === 'other' ? { cookie: otherCookie } : {};
        await notServerError(app, { url: `${base}/callback?${query.join('&')}`, headers });
      },
      1000,
    );
  },
  fuzzTimeout(30_000),
);
