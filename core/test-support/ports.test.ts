import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort, isPortClash, retryOnPortClash } from './ports.ts';

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('freePort', () => {
  it('picks below the ephemeral range, in a slice of its own for each vitest worker slot', async () => {
    const seen = new Map<number, number[]>();
    for (const slot of [1, 2, 3]) {
      vi.stubEnv('VITEST_POOL_ID', String(slot));
      const ports: number[] = [];
      for (let i = 0; i < 20; i++) ports.push(await freePort());
      seen.set(slot, ports);
    }
    for (const [slot, ports] of seen) {
      const first = 20_000 + (slot - 1) * 500;
      for (const port of ports) {
        expect(port).toBeGreaterThanOrEqual(first);
        expect(port).toBeLessThan(first + 500);
      }
    }
    vi.stubEnv('VITEST_POOL_ID', '');
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(32_768);
    }
  });

  it('never gives a port that is listened on, nor one it is told to avoid', async () => {
    // The last slot's slice (31 500 to 31 999): only a machine with 24 vitest workers has another file in it.
    vi.stubEnv('VITEST_POOL_ID', '24');
    const first = 20_000 + 23 * 500;
    // Hold all but two ports of the slice: one held by nobody, one that must be avoided.
    const held: Server[] = [];
    for (let port = first + 2; port < first + 500; port++)
      held.push(await listen(port).catch(() => createServer()));
    try {
      for (let i = 0; i < 5; i++) expect(await freePort([first])).toBe(first + 1);
    } finally {
      await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });
});

describe('retryOnPortClash', () => {
  it('tries again on a port clash only, at most five times', async () => {
    let calls = 0;
    await expect(
      retryOnPortClash(async () => {
        calls++;
        if (calls < 3) throw new Error('listen EADDRINUSE: address already in use 127.0.0.1:20001');
        return 'up';
      }),
    ).resolves.toBe('up');
    expect(calls).toBe(3);

    calls = 0;
    const clash = new Error('# Failed listening on port 20002 (tcp): bind: Address already in use');
    await expect(
      retryOnPortClash(async () => {
        calls++;
        throw clash;
      }),
    ).rejects.toBe(clash);
    expect(calls).toBe(5);

    calls = 0;
    await expect(
      retryOnPortClash(async () => {
        calls++;
        throw new Error('ECONNREFUSED');
      }),
    ).rejects.toThrow('ECONNREFUSED');
    expect(calls).toBe(1);
    expect(isPortClash(undefined)).toBe(false);
  });
});
