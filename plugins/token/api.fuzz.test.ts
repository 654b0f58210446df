/** Issue 20: the token API's JSON bodies and queries, through app.inject: never a 5xx (see core/test-support/fuzz.ts). */
import fc from 'fast-check';
import { it } from 'vitest';
import { fuzz, fuzzTimeout, nastyString, notServerError, urlText } from '../../core/test-support/fuzz.ts';
import { serveForTest } from '../../core/test-support/server.ts';

const ADMIN = 'Bearer admin-secret';
const FIELDS = [
  'name',
  'description',
  'expiresAt',
  'expires_at',
  'metadata',
  'namespaceKey',
  '__proto__',
  'id',
];

const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FIELDS) }, nastyString(10));
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(
      null,
      true,
      0,
      -1,
      1e308,
      '',
      '2099-01-01T00:00:00Z',
      '2099-02-30T00:00:00Z',
      '1970-01-01T00:00:00Z',
    ),
    nastyString(20),
    fc.double(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
}));
const object = fc.dictionary(key, value, { maxKeys: 6 });
/** JSON text: an object as JSON, with a key given twice, cut short, or arbitrary text. */
const body = fc.oneof(
  object.map((o) => JSON.stringify(o)),
  fc.tuple(object, key).map(([o, k]) => `{${JSON.stringify(k)}:1,${JSON.stringify(o).slice(1)}`),
  fc.tuple(object, fc.nat(40)).map(([o, cut]) => JSON.stringify(o).slice(0, cut)),
  nastyString(60),
);
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/grpc',
  undefined,
);
const request = fc.oneof(
  fc.record({ method: fc.constant('POST'), url: fc.constant('/auth/v1/method/token'), body, contentType }),
  fc.record({ method: fc.constant('PUT'), url: fc.constant('/auth/v1/self/expire'), body, contentType }),
  fc.record({
    method: fc.constantFrom('GET', 'DELETE'),
    url: urlText(24).map((id) => `/auth/v1/tokens/${id}`),
    body: fc.constant(undefined),
    contentType: fc.constant(undefined),
  }),
  fc.record({
    method: fc.constant('GET'),
    url: urlText(40).map((query) => `/auth/v1/tokens?${query}`),
    body: fc.constant(undefined),
    contentType: fc.constant(undefined),
  }),
);

it(
  'token API: arbitrary JSON bodies, ids and queries never get a 5xx',
  async () => {
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: { admin: { credential: 'admin-secret' } } } } },
      },
    });
    const { app } = t.server;
    await fuzz(
      'token API (JSON bodies, ids, queries)',
      request,
      async ({ method, url, body, contentType }) => {
        // /self/expire ends the caller's own token: a fresh one each time, so that the next input still has one.
        let authorization = ADMIN;
        if (url === '/auth/v1/self/expire') {
          const created = await app.inject({
            method: 'POST',
            url: '/auth/v1/method/token',
            headers: { authorization: ADMIN },
            payload: { name: 'fuzz' },
          });
          authorization = `Bearer ${(created.json() as { clientToken: string }).clientToken}`;
        }
        await notServerError(app, {
          method,
          url,
          headers: { authorization, ...(contentType !== undefined && { 'content-type': contentType }) },
          ...(body !== undefined && { payload: body }),
        });
      },
      1000,
    );
  },
  fuzzTimeout(30_000),
);
