/**
 * Issue 14: what the token API accepts. Dates as protojson reads a Timestamp (an impossible one is a 400, never a
 * rolled-over date), and JSON object keys as protojson reads a map: any string, `__proto__` included, kept as an
 * ordinary key through the API, the memory store and Redis; a key given twice is a 400, never one silently dropped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { redisKeys } from '../../core/test-support/internals.ts';
import { type RedisServer, startRedis } from '../../core/test-support/redis.ts';
import { bearer, serveForTest, type TestServer } from '../../core/test-support/server.ts';

const ADMIN = bearer('bootstrap-secret');

function config(storage: Record<string, unknown> = {}) {
  return {
    authentication: {
      required: true,
      session: { storage },
      methods: { token: { enabled: true, bootstrap: { token: 'bootstrap-secret' } } },
    },
  };
}

/** POST /auth/v1/method/token with `body` sent as these very characters (so a key can be given twice). */
async function create(t: TestServer, body: string) {
  const response = await t.fetch('/auth/v1/method/token', {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const stored = async (t: TestServer) =>
  ((await (await t.fetch('/auth/v1/tokens', { headers: ADMIN })).json()) as { authentications: unknown[] })
    .authentications.length;

describe('token API: dates', () => {
  it('refuses every impossible expiresAt with 400, saying what is wrong, and stores nothing', async () => {
    const t = await serveForTest(config());
    const before = await stored(t);
    const cases: Array<[string, string]> = [
      ['2099-02-30T00:00:00Z', 'not a valid time: February 2099 has no day 30 (it has 28 days)'],
      ['2099-04-31T00:00:00Z', 'not a valid time: April 2099 has no day 31 (it has 30 days)'],
      ['2099-02-29T00:00:00Z', 'not a valid time: February 2099 has no day 29 (it has 28 days)'],
      ['2099-01-01T24:00:00Z', 'not a valid time: hour 24 does not exist (the hours are 00 to 23)'],
      ['2099-01-01T00:60:00Z', 'not a valid time: minute 60 does not exist (the minutes are 00 to 59)'],
      [
        '2099-12-31T23:59:60Z',
        'not a valid time: second 60 does not exist (the seconds are 00 to 59; Go refuses leap seconds)',
      ],
      [
        '2099-01-01T00:00:00.0000000001Z',
        'not a valid time: the fraction of a second has 10 digits, at most 9 are allowed',
      ],
      [
        '2099-01-01T00:00:00',
        'not an RFC 3339 timestamp: the time zone is missing; expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM',
      ],
      [
        '2099-01-01t00:00:00Z',
        'not an RFC 3339 timestamp: the date and the time are separated by "T" only; expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM',
      ],
      [
        '2099-01-01T00:00:00z',
        'not an RFC 3339 timestamp: UTC is written "Z", upper case; expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM',
      ],
      ['9999-12-31T23:59:59-01:00', 'out of range: in UTC it falls in year 10000, outside 0001 to 9999'],
      ['tomorrow', 'not an RFC 3339 timestamp: expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM'],
    ];
    for (const [expiresAt, problem] of cases) {
      for (const name of ['expiresAt', 'expires_at']) {
        const response = await create(t, JSON.stringify({ name: 'a', [name]: expiresAt }));
        expect(response, `${name}: ${expiresAt}`).toEqual({
          status: 400,
          body: { code: 3, message: `invalid value for ${name}: "${expiresAt}" is ${problem}`, details: [] },
        });
      }
    }
    expect(await create(t, '{"name":"a","expiresAt":4102444800}')).toMatchObject({
      status: 400,
      body: {
        message: 'invalid value for expiresAt: 4102444800 is not a string (a timestamp is written in quotes)',
      },
    });
    expect(
      await create(t, '{"name":"a","expiresAt":"2099-03-01T00:00:00Z","expires_at":null}'),
    ).toMatchObject({
      status: 400,
      body: { message: 'expiresAt and expires_at are the same field: give it once' },
    });
    expect(await stored(t)).toBe(before);
    // The last day of February, in a leap year too, and offsets, are dates.
    for (const expiresAt of ['2099-02-28T23:59:59Z', '2096-02-29T00:00:00+05:30']) {
      const { status, body } = await create(t, JSON.stringify({ name: 'a', expiresAt }));
      expect(status, expiresAt).toBe(200);
      expect((body.authentication as { expiresAt: string }).expiresAt).toBe(
        new Date(expiresAt).toISOString().replace('.000Z', 'Z'),
      );
    }
  });

  it('PUT /auth/v1/self/expire: an impossible expiresAt is a 400 that expires nothing; null or none is now', async () => {
    const t = await serveForTest(config());
    const token = (await create(t, '{"name":"mine"}')).body.clientToken as string;
    const self = () => t.fetch('/auth/v1/self', { headers: bearer(token) });
    const expire = (query: string, body?: string) =>
      t.fetch(`/auth/v1/self/expire${query}`, {
        method: 'PUT',
        headers: { ...bearer(token), ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body }),
      });
    for (const [query, body, message] of [
      [
        '?expiresAt=2099-02-30T00:00:00Z',
        undefined,
        'invalid value for expiresAt: "2099-02-30T00:00:00Z" is not a valid time: February 2099 has no day 30 (it has 28 days)',
      ],
      [
        '?expires_at=2099-01-01T24:00:00Z',
        undefined,
        'invalid value for expires_at: "2099-01-01T24:00:00Z" is not a valid time: hour 24 does not exist (the hours are 00 to 23)',
      ],
      [
        '?expiresAt=2099-01-01T00:00:00Z&expiresAt=2099-01-02T00:00:00Z',
        undefined,
        'invalid value for expiresAt: given more than once',
      ],
      [
        '',
        '{"expiresAt":"2099-04-31T00:00:00Z"}',
        'invalid value for expiresAt: "2099-04-31T00:00:00Z" is not a valid time: April 2099 has no day 31 (it has 30 days)',
      ],
    ] as const) {
      const response = await expire(query, body);
      expect(response.status, query || body).toBe(400);
      expect(await response.json()).toEqual({ code: 3, message, details: [] });
      expect((await self()).status, query || body).toBe(200);
    }
    expect((await expire('?expiresAt=null')).status).toBe(200);
    // Expired now: refused once that instant has passed.
    await sleep(5);
    expect((await self()).status).toBe(401);
  });
});

/**
 * Keys a JavaScript object has by inheritance, which `target[key] = value` would not store as an entry. (A list, not
 * an object literal: in one, `__proto__: 'p'` sets the prototype and is no key at all.)
 */
const PROTOTYPE_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['__proto__', 'p'],
  ['constructor', 'c'],
  ['prototype', 'q'],
  ['hasOwnProperty', 'h'],
  ['toString', 't'],
  ['valueOf', 'v'],
  ['isPrototypeOf', 'i'],
];
const PROTOTYPE_METADATA = `{${PROTOTYPE_KEYS.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;

/** Creates a token with every prototype key in its metadata, and reads it back every way the API shows it. */
async function roundTrip(t: TestServer): Promise<{ id: string; shown: Array<Record<string, string>> }> {
  expect(PROTOTYPE_METADATA).toContain('"__proto__":"p"');
  const created = await create(t, `{"name":"protos","metadata":${PROTOTYPE_METADATA}}`);
  expect(created.status).toBe(200);
  const authentication = created.body.authentication as { id: string; metadata: Record<string, string> };
  const byId = (await (await t.fetch(`/auth/v1/tokens/${authentication.id}`, { headers: ADMIN })).json()) as {
    metadata: Record<string, string>;
  };
  const listed = (
    (await (await t.fetch('/auth/v1/tokens', { headers: ADMIN })).json()) as {
      authentications: Array<{ id: string; metadata: Record<string, string> }>;
    }
  ).authentications.find((a) => a.id === authentication.id);
  const self = (await (
    await t.fetch('/auth/v1/self', { headers: bearer(created.body.clientToken as string) })
  ).json()) as { metadata: Record<string, string> };
  return {
    id: authentication.id,
    shown: [authentication.metadata, byId.metadata, listed?.metadata ?? {}, self.metadata],
  };
}

/** `metadata` holds every prototype key as an own entry with its value, and the name. */
function expectPrototypeKeys(metadata: Record<string, string>) {
  for (const [key, value] of PROTOTYPE_KEYS) {
    expect(Object.hasOwn(metadata, key), key).toBe(true);
    expect(Object.getOwnPropertyDescriptor(metadata, key)?.value, key).toBe(value);
  }
  expect(metadata['io.flipt.auth.token.name']).toBe('protos');
}

describe('token API: JSON keys', () => {
  it('keeps __proto__, constructor, prototype and the like as ordinary metadata keys (memory store)', async () => {
    const t = await serveForTest(config());
    const { shown } = await roundTrip(t);
    for (const metadata of shown) expectPrototypeKeys(metadata);
    // Nothing leaked into the objects of the process.
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('refuses a key given twice (protojson: duplicate field, duplicate map key) instead of keeping the last', async () => {
    const t = await serveForTest(config());
    const before = await stored(t);
    const twice = (where: string, name: string) =>
      `invalid values for key(s) in json body: ${JSON.stringify(name)} is given twice in ${where}`;
    for (const [body, message] of [
      ['{"name":"a","name":"b"}', twice('the request body', 'name')],
      ['{"name":"a","metadata":{"role":"viewer","role":"admin"}}', twice('metadata', 'role')],
      ['{"name":"a","metadata":{"role":"viewer","r\\u006fle":"admin"}}', twice('metadata', 'role')],
      ['{"name":"a","metadata":{"__proto__":"x","__proto__":"y"}}', twice('metadata', '__proto__')],
      ['{"name":"a","x":[{"k":1},{"k":1,"k":2}]}', twice('x[1]', 'k')],
    ] as const) {
      expect(await create(t, body), body).toEqual({ status: 400, body: { code: 3, message, details: [] } });
    }
    expect(await stored(t)).toBe(before);
    // The same name in different objects, or as a value, is no duplicate.
    expect(
      (await create(t, '{"name":"name","metadata":{"name":"name"},"x":{"name":{"name":1}}}')).status,
    ).toBe(200);
  });

  it('a body whose own __proto__ holds fields sets nothing, and pollutes nothing', async () => {
    const t = await serveForTest(config());
    const response = await create(
      t,
      '{"__proto__":{"name":"sneaky","metadata":{"role":"admin"}},"name":"plain"}',
    );
    expect(response.status).toBe(200);
    const metadata = (response.body.authentication as { metadata: Record<string, string> }).metadata;
    expect(metadata).toEqual({ 'io.flipt.auth.token.name': 'plain' });
    expect(await create(t, '{"__proto__":{"name":"sneaky"}}')).toMatchObject({
      status: 400,
      body: { message: 'name must not be empty' },
    });
    expect(({} as Record<string, unknown>).name).toBeUndefined();
  });
});

describe('token API: JSON keys kept in Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.kill();
  });

  it('stores prototype keys in Flipt’s layout, reads them back, and a second instance sees them too', async () => {
    const storage = { type: 'redis', redis: { host: redis.host, port: redis.port, prefix: 'protos' } };
    const t = await serveForTest(config(storage));
    const { id, shown } = await roundTrip(t);
    for (const metadata of shown) expectPrototypeKeys(metadata);

    const raw = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    onTestFinished(() => raw.disconnect());
    const json = (await raw.hget(redisKeys('protos').id(id), 'authentication')) ?? '';
    expectPrototypeKeys((JSON.parse(json) as { metadata: Record<string, string> }).metadata);

    const other = await serveForTest(config(storage));
    const again = (await (await other.fetch(`/auth/v1/tokens/${id}`, { headers: ADMIN })).json()) as {
      metadata: Record<string, string>;
    };
    expectPrototypeKeys(again.metadata);
  });
});
