/**
 * Credentials with characters outside ASCII, sent over real HTTP as raw bytes. A client sends a credential's UTF-8
 * bytes; those must match the configured (or stored) credential, whose UTF-8 bytes Flipt hashes. The same credential's
 * Latin-1 bytes are another credential and must not match.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { redisKeys } from '../store/redis.ts';
import { startRedis } from '../test-support/redis.ts';
import { serveForTest } from '../test-support/server.ts';
import { tempFiles } from '../test-support/tmp.ts';
import { startUpstream } from '../test-support/upstream.ts';
import { portcullis } from './plugin.ts';

/**
 * Latin-1 letters; one ending in `à`, whose last UTF-8 byte (0xA0) is a space to JavaScript's `trim`; CJK; emoji
 * (four-byte UTF-8, two UTF-16 code units each).
 */
const CREDENTIALS = {
  latin: 'pässwörd-ü-ß-é',
  voila: 'voilà',
  cjk: '秘密の鍵',
  emoji: '🔑🚪',
} as const;
type Name = keyof typeof CREDENTIALS;
const NAMES = Object.keys(CREDENTIALS) as Name[];

const utf8 = (text: string) => Buffer.from(text, 'utf8');
/** What a client that encodes text as Latin-1 sends (only meaningful for Latin-1 letters). */
const latin1 = (text: string) => Buffer.from(text, 'latin1');

const staticTokens = Object.fromEntries(NAMES.map((name) => [name, { credential: CREDENTIALS[name] }]));

interface RawAnswer {
  readonly status: number;
  /** Header names in lower case; a value as Latin-1 text, one character per byte. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * One HTTP/1.1 request written byte for byte on a socket (header values exactly as given), and its whole answer:
 * no client library between the test and the server re-encodes anything.
 */
async function rawRequest(
  base: string,
  path: string,
  headers: ReadonlyArray<readonly [string, Buffer]>,
  method = 'GET',
): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  const request = Buffer.concat([
    Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`),
    ...headers.flatMap(([name, value]) => [Buffer.from(`${name}: `), value, Buffer.from('\r\n')]),
    Buffer.from('\r\n'),
  ]);
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
  const text = answer.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const parsed: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers: parsed, body: text.slice(end + 4) };
}

const bearer = (bytes: Buffer): readonly [string, Buffer] => [
  'Authorization',
  Buffer.concat([Buffer.from('Bearer '), bytes]),
];
const tokenCookie = (bytes: Buffer, quoted = false): readonly [string, Buffer] => [
  'Cookie',
  Buffer.concat([
    Buffer.from(`theme=dark; flipt_client_token=${quoted ? '"' : ''}`),
    bytes,
    Buffer.from(quoted ? '"; lang=de' : '; lang=de'),
  ]),
];

/** Who `/auth/v1/self` says the caller is, or the status when it refuses. */
async function self(base: string, header: readonly [string, Buffer]): Promise<string | number> {
  const answer = await rawRequest(base, '/auth/v1/self', [header]);
  return answer.status === 200 ? (JSON.parse(answer.body) as { id: string }).id : answer.status;
}

/** Flipt's stored key for a token: `base64.URLEncoding(sha256(bytes))`, computed here independently of the code. */
const fliptHash = (bytes: Buffer) => `${createHash('sha256').update(bytes).digest('base64url')}=`;

describe('non-ASCII credentials sent as raw bytes', () => {
  it('Bearer: the UTF-8 bytes of a static token’s credential authenticate on /auth/v1/self; Latin-1 bytes do not', async () => {
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: staticTokens } } },
      },
    });
    for (const name of NAMES) expect(await self(t.url(''), bearer(utf8(CREDENTIALS[name]))), name).toBe(name);
    expect(await self(t.url(''), bearer(latin1(CREDENTIALS.latin)))).toBe(401);
    expect(await self(t.url(''), bearer(latin1(CREDENTIALS.voila)))).toBe(401);
    // The UTF-8 bytes with the last one dropped (what trimming 0xA0 as a space would leave) are not the credential.
    expect(await self(t.url(''), bearer(utf8(CREDENTIALS.voila).subarray(0, -1)))).toBe(401);
  });

  it('the flipt_client_token cookie: the raw UTF-8 bytes authenticate, quoted or not; Latin-1 bytes do not', async () => {
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: staticTokens } } },
      },
    });
    for (const name of NAMES) {
      expect(await self(t.url(''), tokenCookie(utf8(CREDENTIALS[name]))), name).toBe(name);
      expect(await self(t.url(''), tokenCookie(utf8(CREDENTIALS[name]), true)), name).toBe(name);
    }
    expect(await self(t.url(''), tokenCookie(latin1(CREDENTIALS.latin)))).toBe(401);
    expect(await self(t.url(''), tokenCookie(latin1(CREDENTIALS.voila)))).toBe(401);
  });

  it('forward-auth admits the UTF-8 bytes (Bearer or cookie) with the identity headers, and refuses Latin-1 bytes', async () => {
    const t = await serveForTest({
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: staticTokens } } },
      },
    });
    const ask = (credential: readonly [string, Buffer]) =>
      rawRequest(t.url(''), '/auth/v1/forward', [
        ['X-Forwarded-Uri', Buffer.from('/api/v1/flags')],
        ['X-Forwarded-Method', Buffer.from('POST')],
        credential,
      ]);
    for (const name of NAMES) {
      for (const credential of [bearer(utf8(CREDENTIALS[name])), tokenCookie(utf8(CREDENTIALS[name]))]) {
        const allowed = await ask(credential);
        expect(allowed.status, `${name} ${credential[0]}`).toBe(200);
        expect(allowed.headers['x-auth-request-user']).toBe(name);
      }
    }
    for (const text of [CREDENTIALS.latin, CREDENTIALS.voila]) {
      expect((await ask(bearer(latin1(text)))).status).toBe(401);
      expect((await ask(tokenCookie(latin1(text)))).status).toBe(401);
    }
  });

  it('the gateway proxies the UTF-8 bytes to the upstream, passing the bytes on unchanged; Latin-1 bytes never reach it', async () => {
    const upstream = await startUpstream();
    const t = await serveForTest({
      gateway: { upstream: upstream.url, pass_authorization: true },
      authentication: {
        required: true,
        methods: { token: { enabled: true, storage: { tokens: staticTokens } } },
      },
    });
    for (const name of NAMES) {
      const credential = utf8(CREDENTIALS[name]);
      const answer = await rawRequest(t.url(''), '/api/v1/flags', [
        bearer(credential),
        ['Cookie', Buffer.concat([Buffer.from('theme='), utf8('voilà')])],
      ]);
      expect(answer.status, name).toBe(200);
      const received = upstream.received.at(-1);
      expect(received?.headers['x-auth-request-user']).toBe(name);
      // Node reads header bytes as Latin-1 text: the same bytes arrived, not a re-encoding of them.
      expect(received?.headers.authorization).toBe(`Bearer ${credential.toString('latin1')}`);
      expect(received?.headers.cookie).toBe(`theme=${utf8('voilà').toString('latin1')}`);
    }
    const cookieAnswer = await rawRequest(t.url(''), '/api/v1/flags', [tokenCookie(utf8(CREDENTIALS.emoji))]);
    expect(cookieAnswer.status).toBe(200);
    const before = upstream.received.length;
    for (const text of [CREDENTIALS.latin, CREDENTIALS.voila]) {
      expect((await rawRequest(t.url(''), '/api/v1/flags', [bearer(latin1(text))])).status).toBe(401);
      expect((await rawRequest(t.url(''), '/api/v1/flags', [tokenCookie(latin1(text))])).status).toBe(401);
    }
    expect(upstream.received.length).toBe(before);
  });

  it('a bootstrap token in the memory store and a static credential from a secret file match their UTF-8 bytes', async () => {
    const dir = tempFiles({ 'ci-token': `${CREDENTIALS.cjk}\n` });
    const t = await serveForTest({
      secrets: { providers: { file: { enabled: true, base_path: dir } } },
      authentication: {
        required: true,
        methods: {
          token: {
            enabled: true,
            bootstrap: { token: CREDENTIALS.latin },
            storage: { tokens: { ci: { credential: '${secret:file:ci-token}' } } },
          },
        },
      },
    });
    expect(await self(t.url(''), bearer(utf8(CREDENTIALS.latin)))).toEqual(
      expect.stringMatching(/^[0-9a-f-]{36}$/),
    );
    expect(await self(t.url(''), bearer(latin1(CREDENTIALS.latin)))).toBe(401);
    expect(await self(t.url(''), bearer(utf8(CREDENTIALS.cjk)))).toBe('ci');
    expect(await self(t.url(''), tokenCookie(utf8(CREDENTIALS.cjk)))).toBe('ci');
  });

  it('Redis: the static overlay, a bootstrap token created there and a token Flipt stored all match their UTF-8 bytes', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.kill());
    const prefix = 'non-ascii';
    const raw = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    onTestFinished(() => raw.disconnect());
    // A token Flipt wrote: its key is the hash of the credential's UTF-8 bytes (Go hashes a string's bytes).
    const fliptToken = '鍵🔑-written-by-flipt';
    const keys = redisKeys(prefix);
    const hash = fliptHash(utf8(fliptToken));
    await raw.hset(keys.id('flipt-written'), {
      authentication:
        '{"id":"flipt-written","method":"METHOD_TOKEN","createdAt":"2026-08-22T10:00:00Z","updatedAt":"2026-08-22T10:00:00Z"}',
      token_hash: hash,
    });
    await raw.set(keys.token(hash), 'flipt-written');

    const t = await serveForTest({
      authentication: {
        required: true,
        session: { storage: { type: 'redis', redis: { host: redis.host, port: redis.port, prefix } } },
        methods: {
          token: {
            enabled: true,
            bootstrap: { token: CREDENTIALS.emoji },
            storage: { tokens: { latin: staticTokens.latin } },
          },
        },
      },
    });
    expect(await self(t.url(''), bearer(utf8(CREDENTIALS.latin)))).toBe('latin');
    expect(await self(t.url(''), bearer(latin1(CREDENTIALS.latin)))).toBe(401);
    const bootstrapId = await self(t.url(''), bearer(utf8(CREDENTIALS.emoji)));
    expect(bootstrapId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    // Stored as Flipt would have: under the hash of the UTF-8 bytes.
    expect(await raw.get(keys.token(fliptHash(utf8(CREDENTIALS.emoji))))).toBe(bootstrapId);
    expect(await self(t.url(''), bearer(utf8(fliptToken)))).toBe('flipt-written');
    expect(await self(t.url(''), tokenCookie(utf8(fliptToken)))).toBe('flipt-written');
  });

  it('embedding: a header string with a character above U+00FF is decoded text (UTF-8); one without is wire bytes', async () => {
    const app = Fastify();
    await app.register(portcullis, {
      object: {
        authentication: {
          required: true,
          methods: { token: { enabled: true, storage: { tokens: staticTokens } } },
        },
      },
      env: {},
      logDestination: { write: () => true },
    });
    app.get('/whoami', async (request) => ({ id: request.authentication?.id }));
    onTestFinished(() => app.close());
    const whoami = async (authorization: string) => {
      const response = await app.inject({ url: '/whoami', headers: { authorization } });
      return response.statusCode === 200 ? (response.json() as { id: string }).id : response.statusCode;
    };
    // No byte can be above 0xFF: this string did not come off the wire one byte per character.
    expect(await whoami(`Bearer ${CREDENTIALS.cjk}`)).toBe('cjk');
    expect(await whoami(`Bearer ${CREDENTIALS.emoji}`)).toBe('emoji');
    // Truncating those characters to one byte each would name another credential: it is not accepted.
    expect(await whoami(`Bearer ${latin1(CREDENTIALS.cjk).toString('latin1')}`)).toBe(401);
    // Characters up to U+00FF are bytes, as from the wire: the UTF-8 bytes' Latin-1 form is the credential.
    expect(await whoami(`Bearer ${utf8(CREDENTIALS.latin).toString('latin1')}`)).toBe('latin');
    expect(await whoami(`Bearer ${CREDENTIALS.latin}`)).toBe(401);
  });
});
