import { execFileSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as ports from './ports.ts';
import { type RedisServer, startRedis } from './redis.ts';

// The next port freePort hands out, when a test sets one: a port another process takes before the server binds it.
const next: number[] = [];
vi.mock('./ports.ts', async (actual) => {
  const real = await actual<typeof ports>();
  return {
    ...real,
    freePort: vi.fn(async (besides?: readonly number[]) => next.shift() ?? real.freePort(besides)),
  };
});

const servers: RedisServer[] = [];
afterAll(() => Promise.all(servers.map((server) => server.kill())));

/** Listens on a port as another process would: accepts connections and never answers (a PING waits). */
async function hold(port?: number): Promise<{ readonly port: number; release(): Promise<void> }> {
  const at = port ?? (await ports.freePort());
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(at, '127.0.0.1', resolve);
  });
  return {
    port: at,
    release: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('startRedis', () => {
  it('picks another port when the one it was given is taken before the server binds it', async () => {
    const taken = await hold();
    try {
      next.push(taken.port);
      const server = await startRedis();
      servers.push(server);
      expect(server.port).not.toBe(taken.port);
      expect(
        execFileSync('redis-cli', ['-p', String(server.port), 'PING'])
          .toString()
          .trim(),
      ).toBe('PONG');
    } finally {
      await taken.release();
    }
  });

  it('picks another cluster bus port when the one it was given is taken, each checked and below 32768', async () => {
    const taken = await hold();
    try {
      const client = await ports.freePort();
      next.push(client, taken.port);
      const server = await startRedis({ cluster: true });
      servers.push(server);
      const myself = execFileSync('redis-cli', ['-p', String(server.port), 'CLUSTER', 'NODES'])
        .toString()
        .split('\n')
        .find((line) => line.includes('myself'));
      const bus = Number(/:\d+@(\d+)/.exec(myself ?? '')?.[1]);
      expect(bus).not.toBe(taken.port);
      expect(bus).not.toBe(server.port + 10_000);
      expect(bus).toBeLessThan(32_768);
    } finally {
      await taken.release();
    }
  });

  it('says why when a restart cannot bind its port, with the server’s own words', async () => {
    const server = await startRedis();
    servers.push(server);
    await server.kill();
    const taken = await hold(server.port);
    try {
      await expect(server.restart()).rejects.toThrow(
        new RegExp(`redis-server on port ${server.port} exited with 1:\\n[^]*Address already in use`),
      );
    } finally {
      await taken.release();
    }
  });
});
