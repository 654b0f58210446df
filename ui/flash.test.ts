import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FLASH_COOKIE, type Flash, setFlash, takeFlash } from './flash.ts';

/** A Fastify app that sets a flash (POST /set, the flash as JSON) and takes one (GET /take, answering what it read). */
async function app(
  options: { secure?: boolean; sameSite?: 'Strict' | 'Lax' } = {},
): Promise<FastifyInstance> {
  const server = Fastify();
  server.post('/set', async (request, reply) => {
    setFlash(reply, request.body as Flash, {
      path: '/auth/ui/tokens',
      secure: options.secure ?? false,
      sameSite: options.sameSite ?? 'Strict',
    });
    return { ok: true };
  });
  server.get('/take', async (request, reply) => {
    const flash = takeFlash(request, reply, { path: '/auth/ui/tokens', secure: options.secure ?? false });
    return { flash: flash ?? null };
  });
  await server.ready();
  onTestFinished(() => server.close());
  return server;
}

async function set(server: FastifyInstance, flash: unknown): Promise<string> {
  const response = await server.inject({ method: 'POST', url: '/set', payload: flash as object });
  expect(response.statusCode).toBe(200);
  const cookies = [response.headers['set-cookie'] ?? []].flat();
  expect(cookies).toHaveLength(1);
  return cookies[0] ?? '';
}

async function take(server: FastifyInstance, cookie?: string) {
  const response = await server.inject({
    method: 'GET',
    url: '/take',
    headers: cookie === undefined ? {} : { cookie },
  });
  expect(response.statusCode).toBe(200);
  return {
    flash: (response.json() as { flash: Flash | null }).flash,
    setCookies: [response.headers['set-cookie'] ?? []].flat(),
  };
}

const pair = (setCookie: string) => setCookie.split('; ')[0] ?? '';
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const CLEARED = `${FLASH_COOKIE}=; Path=/auth/ui/tokens; Max-Age=0; HttpOnly; SameSite=Strict`;

describe('setFlash', () => {
  it('a short-lived, HttpOnly cookie on the page’s path, SameSite as asked, Secure as the session', async () => {
    expect(await set(await app(), { kind: 'notice', text: 'hi' })).toMatch(
      new RegExp(
        `^${FLASH_COOKIE}=[A-Za-z0-9_-]+; Path=/auth/ui/tokens; Max-Age=60; HttpOnly; SameSite=Strict$`,
      ),
    );
    expect(await set(await app({ secure: true, sameSite: 'Lax' }), { kind: 'error', text: 'no' })).toMatch(
      /; Path=\/auth\/ui\/tokens; Max-Age=60; HttpOnly; Secure; SameSite=Lax$/,
    );
  });

  it('a long text is cut to 600 characters, to fit a cookie', async () => {
    const server = await app();
    const cookie = await set(server, { kind: 'error', text: 'x'.repeat(5000) });
    expect(cookie.length).toBeLessThan(4096);
    const { flash } = await take(server, pair(cookie));
    expect(flash?.text).toBe(`${'x'.repeat(599)}…`);
  });
});

describe('takeFlash', () => {
  it('reads what setFlash wrote, once: the reply clears the cookie on the same path', async () => {
    const server = await app();
    for (const flash of [
      { kind: 'error', text: 'Sign-in was refused (email is not allowed).' },
      { kind: 'notice', text: 'You have been signed out.' },
      { kind: 'created', text: 'Token “x” created.', clientToken: 'secret-token' },
      { kind: 'notice', text: '<script>alert(1)</script> “quotes” é 😀' },
    ] as const) {
      const { flash: read, setCookies } = await take(server, pair(await set(server, flash)));
      expect(read).toEqual(flash);
      expect(setCookies).toEqual([CLEARED]);
    }
  });

  it('no cookie: nothing read, nothing cleared', async () => {
    const server = await app();
    expect(await take(server)).toEqual({ flash: null, setCookies: [] });
    expect(await take(server, 'other=1; flipt_client_token=abc')).toEqual({ flash: null, setCookies: [] });
  });

  it('a client token only comes with a “created” flash, and only as a string', async () => {
    const server = await app();
    const notice = await take(
      server,
      `${FLASH_COOKIE}=${encode({ kind: 'notice', text: 't', clientToken: 'x' })}`,
    );
    expect(notice.flash).toEqual({ kind: 'notice', text: 't' });
    const created = await take(
      server,
      `${FLASH_COOKIE}=${encode({ kind: 'created', text: 't', clientToken: 7 })}`,
    );
    expect(created.flash).toEqual({ kind: 'created', text: 't' });
    // Text longer than a flash may be (a cookie written by hand) is cut too.
    const long = await take(server, `${FLASH_COOKIE}=${encode({ kind: 'notice', text: 'y'.repeat(700) })}`);
    expect(long.flash?.text).toBe('y'.repeat(600));
  });

  it.each([
    ['not base64 JSON', 'bm90IGpzb24'],
    ['empty', ''],
    ['JSON null', encode(null)],
    ['a JSON string', encode('error')],
    ['a JSON array', encode([{ kind: 'error', text: 'x' }])],
    ['an unknown kind', encode({ kind: 'alert', text: 'x' })],
    ['no kind', encode({ text: 'x' })],
    ['a text that is not a string', encode({ kind: 'error', text: { toString: 'x' } })],
    ['no text', encode({ kind: 'error' })],
    [
      'a kind only under __proto__',
      Buffer.from('{"__proto__":{"kind":"error","text":"x"}}').toString('base64url'),
    ],
    ['bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')],
    ['standard base64 with padding', Buffer.from(JSON.stringify({ kind: 'x' })).toString('base64')],
  ])('a malformed flash (%s) is ignored and cleared', async (_what, value) => {
    const server = await app();
    const { flash, setCookies } = await take(server, `${FLASH_COOKIE}=${value}`);
    expect(flash).toBeNull();
    expect(setCookies).toEqual([CLEARED]);
  });

  // readCookie drops such a value as if absent; takeFlash still clears it.
  it.each([
    ['a backslash', 'eyJ\\raW5kIjoiZXJyb3IifQ'],
    ['a comma', 'eyJraW5k,IjoiZXJyb3IifQ'],
    ['a quote inside', 'eyJraW5k"IjoiZXJyb3IifQ'],
  ])('a flash cookie with %s is ignored and cleared', async (_what, value) => {
    const server = await app();
    const { flash, setCookies } = await take(server, `${FLASH_COOKIE}=${value}`);
    expect(flash).toBeNull();
    expect(setCookies).toEqual([CLEARED]);
  });
});
