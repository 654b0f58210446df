/**
 * The listening server and the configurations swapped behind it (core/server.ts): what a fresh reviewer found
 * holding a shutdown open or a replaced configuration alive.
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startGcpFake } from '../secrets/gcp/fake.ts';
import { defineMethod } from './plugins/kit/index.ts';
import { type Server, startServer } from './server.ts';
import { eventually, sleep } from './test-support/load.ts';
import { registryWith } from './test-support/plugins.ts';
import { parseAnswers, rawExchange, startSilentServer } from './test-support/raw-http.ts';
import { tempDir } from './test-support/tmp.ts';
import { startUpstream } from './test-support/upstream.ts';

const TOKEN = 'swap-test-static-token-2e8f';

const base = (extra: Record<string, unknown> = {}) => ({
  server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
  authentication: {
    required: true,
    methods: { token: { enabled: true, storage: { tokens: { ci: { credential: TOKEN } } } } },
  },
  ...extra,
});

const portOf = (server: Server) => Number(new URL(server.address).port);

/** Resolves to how long `promise` took, or rejects when it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<number> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
  return Date.now() - started;
}

const request = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n${extra}\r\n`;

describe('a replaced configuration closes once its requests are done, whatever became of them', () => {
  for (const [what, bytes] of [
    [
      'pipelined behind a request without Host (a 400 that closes)',
      `GET /auth/v1/self HTTP/1.1\r\n\r\n${request('/auth/v1/self')}`,
    ],
    [
      'pipelined behind one with two Host headers',
      `GET /auth/v1/self HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${request('/auth/v1/self')}`,
    ],
    [
      'pipelined behind an absolute target naming another host',
      `GET http://other/auth/v1/self HTTP/1.1\r\nHost: x\r\n\r\n${request('/auth/v1/self')}`,
    ],
  ] as const) {
    it(`a request ${what}: after a reload the old configuration closes, and so does the server`, async () => {
      const server = await startServer({
        object: base(),
        env: {},
        logDestination: { write: () => undefined },
      });
      const exchange = await rawExchange(portOf(server), [bytes]);
      expect(exchange.answers.map((answer) => answer.status)).toEqual([400]);
      const old = server.runtime;
      let oldClosed = false;
      const close = old.close;
      (old as { close: () => Promise<void> }).close = async () => {
        oldClosed = true;
        await close();
      };
      expect(await server.reload()).toBe(true);
      await within(
        (async () => {
          while (!oldClosed) await sleep(10);
        })(),
        2_000,
        'closing the replaced configuration',
      );
      await within(server.close(), 2_000, 'server.close()');
    });
  }

  it('pipelined requests whose client hung up behind a slow one: the same', async () => {
    const upstream = await startUpstream();
    const server = await startServer({
      object: base({ gateway: { upstream: upstream.url } }),
      env: {},
      logDestination: { write: () => undefined },
    });
    await rawExchange(portOf(server), [
      request('/slow?delay=400') + request('/a') + request('/b'),
      { wait: 100 },
      { close: 'destroy' },
    ]);
    expect(await server.reload()).toBe(true);
    await within(server.close(), 3_000, 'server.close()');
    await upstream.close();
  });
});

describe('shutting down', () => {
  it('stops listening at once during a slow reload, and discards what the reload built', async () => {
    let creates = 0;
    let closes = 0;
    const slow = defineMethod({
      name: 'slow',
      method: 'METHOD_SLOW',
      sessionCompatible: false,
      configSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { enabled: { type: 'boolean' }, delay_ms: { type: 'integer' } },
      },
      async create(_ctx, config) {
        creates += 1;
        await sleep(Number((config as { delay_ms?: number }).delay_ms ?? 0));
        return {
          close() {
            closes += 1;
          },
        };
      },
    });
    const file = join(tempDir(), 'config.json');
    const write = (delayMs: number) => {
      const config = base();
      (config.authentication.methods as Record<string, unknown>).slow = { enabled: true, delay_ms: delayMs };
      writeFileSync(file, JSON.stringify(config));
    };
    write(0);
    const logs: string[] = [];
    const server = await startServer({
      file,
      env: {},
      registry: registryWith(slow),
      logDestination: { write: (line: string) => logs.push(line) },
    });
    const port = portOf(server);
    write(1_500);
    const reloaded = server.reload();
    await sleep(200);
    const closing = server.close();
    await sleep(100);
    // No longer listening, though the reload is still building.
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await reloaded).toBe(false);
    await within(closing, 3_000, 'server.close()');
    expect(creates).toBe(2);
    // The first configuration's method and the one the reload built: both closed; the new one never served.
    expect(closes).toBe(2);
    expect(logs.join('\n')).not.toContain('configuration reloaded');
  });

  it('refuses a websocket upgrade sent once shutdown has begun (503, Flipt shape) rather than let it hold the shutdown open', async () => {
    const upstream = await startUpstream();
    const server = await startServer({
      object: base({ gateway: { upstream: upstream.url } }),
      env: {},
      logDestination: { write: () => undefined },
    });
    onTestFinished(() => upstream.close());
    const upgrade =
      'GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' +
      `${TOKEN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    // The client sends the upgrade the moment its first answer arrives, on the same kept-alive connection.
    const socket = connect(portOf(server), '127.0.0.1');
    let bytes = '';
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (bytes === '') socket.write(upgrade);
      bytes += chunk.toString('latin1');
    });
    socket.write(request('/slow?delay=500'));
    await sleep(150);
    const closing = server.close();
    await within(ended, 3_000, 'the connection closing');
    const answers = parseAnswers(bytes);
    // Almost always the upgrade arrives first and is refused; the server may also have closed the connection, idle
    // once its answer was out, just before: either way no tunnel opens and the close below ends.
    expect(answers[0]?.status).toBe(200);
    if (answers.length > 1) {
      expect(answers.map((answer) => answer.status)).toEqual([200, 503]);
      expect(JSON.parse(answers[1]?.body ?? '{}')).toEqual({
        code: 14,
        message: 'the server is shutting down',
        details: [],
      });
    }
    await within(closing, 2_000, 'server.close()');
  });
});

describe('shutting down while a refresh waits on a store', () => {
  it('cancels its fetches rather than wait for fetch_timeout', async () => {
    const fake = await startGcpFake();
    onTestFinished(() => fake.close());
    fake.set('ci-token', TOKEN);
    const logs: string[] = [];
    const server = await startServer({
      object: {
        ...base(),
        authentication: {
          required: true,
          methods: {
            token: { enabled: true, storage: { tokens: { ci: { credential: '${secret:gcp:ci-token}' } } } },
          },
        },
        secrets: {
          refresh_interval: '200ms',
          fetch_timeout: '20s',
          providers: { gcp: { enabled: true, ...fake.config } },
        },
      },
      env: { ...fake.env },
      logDestination: { write: (line: string) => logs.push(line) },
    });
    fake.setStalled(true);
    const asked = fake.requests.length;
    await eventually(() => fake.requests.length > asked, 3_000, 'a refresh reaching the store');
    const took = await within(server.close(), 3_000, 'server.close()');
    expect(took).toBeLessThan(3_000);
    fake.setStalled(false);
  });
});

describe('shutting down while a reload opens a store that never answers', () => {
  it('stops waiting for it at once', async () => {
    const hang = await startSilentServer();
    const file = join(tempDir(), 'config.json');
    writeFileSync(file, JSON.stringify(base()));
    const server = await startServer({ file, env: {}, logDestination: { write: () => undefined } });
    writeFileSync(
      file,
      JSON.stringify(
        base({
          secrets: {
            fetch_timeout: '30s',
            providers: {
              vault: {
                enabled: true,
                address: `http://127.0.0.1:${hang.port}`,
                token: 'never-answered-token-4e',
              },
            },
          },
        }),
      ),
    );
    const reloaded = server.reload();
    await eventually(() => hang.connections() > 0, 3_000, 'the store being asked');
    await within(server.close(), 2_000, 'server.close()');
    expect(await reloaded).toBe(false);
  });
});
