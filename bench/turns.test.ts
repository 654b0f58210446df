/**
 * The load scripts' rounds (`turns.ts`): each starts one target further on, in `load.ts` (HTTP rows) and
 * `grpc-load.ts` (row 10) alike, each target's results kept in its own list. Real load processes against real
 * servers that note which of them is called.
 */
import { execFile } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { turns } from './turns.ts';

const run = promisify(execFile);
/** How long `C` takes to answer, in ms. */
const SLOW_MS = 20;

interface Measured {
  readonly p50_ms: number;
  readonly non2xx: number;
}

/**
 * Servers that note which of them was called, in the order the calls came (runs of one name collapsed), each told
 * apart by its answers too: `B` refuses every call (404, or gRPC status 16), `C` answers after 20 ms, `A` at once and
 * OK, so that a result filed under another target's name shows.
 */
async function servers(kind: 'http' | 'h2c', names: readonly string[]) {
  const called: string[] = [];
  const seen = (name: string) => {
    if (called.at(-1) !== name) called.push(name);
  };
  const urls: Record<string, string> = {};
  for (const name of names) {
    const server =
      kind === 'http'
        ? createHttpServer((_request, response) => {
            seen(name);
            response.statusCode = name === 'B' ? 404 : 200;
            setTimeout(() => response.end('ok'), name === 'C' ? SLOW_MS : 0);
          })
        : createHttp2Server().on('stream', (stream) => {
            seen(name);
            stream.resume();
            const status = name === 'B' ? '16' : '0';
            stream.on('end', () =>
              setTimeout(
                () =>
                  stream.respond(
                    { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': status },
                    { endStream: true },
                  ),
                name === 'C' ? SLOW_MS : 0,
              ),
            );
          });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close();
    });
    const { port } = server.address() as AddressInfo;
    urls[name] =
      kind === 'http' ? `http://127.0.0.1:${port}/` : `h2c://127.0.0.1:${port}/portcullis.test.Echo/Unary`;
  }
  return { called, urls };
}

const load = async (script: string, urls: Record<string, string>) => {
  const options = {
    rounds: 4,
    duration: 0.3,
    connections: 1,
    channels: 1,
    targets: Object.entries(urls).map(([name, url]) => ({ name, url })),
  };
  const { stdout } = await run(process.execPath, [
    '--experimental-strip-types',
    '--disable-warning=ExperimentalWarning',
    new URL(script, import.meta.url).pathname,
    JSON.stringify(options),
  ]);
  return JSON.parse(stdout) as Record<string, Measured[]>;
};

describe('the rounds of a comparison', () => {
  it('start one target further on each round', () => {
    expect([0, 1, 2, 3, 4].map((round) => turns(['a', 'b', 'c'], round).join(''))).toEqual([
      'abc',
      'bca',
      'cab',
      'abc',
      'bca',
    ]);
    expect(turns([], 3)).toEqual([]);
  });

  for (const [script, kind] of [
    ['load.ts', 'http'],
    ['grpc-load.ts', 'h2c'],
  ] as const) {
    it(`are run in that order by ${script}, each target's results in its own list`, async () => {
      const { called, urls } = await servers(kind, ['A', 'B', 'C']);
      const results = await load(script, urls);
      expect(Object.keys(results).sort()).toEqual(['A', 'B', 'C']);
      for (const rounds of Object.values(results)) expect(rounds).toHaveLength(4);
      // Every round of each target is its own: B's refused, C's slow, A's neither.
      for (const round of results.A ?? []) expect(round).toMatchObject({ non2xx: 0 });
      for (const round of results.A ?? []) expect(round.p50_ms).toBeLessThan(SLOW_MS / 2);
      for (const round of results.B ?? []) expect(round.non2xx).toBeGreaterThan(0);
      for (const round of results.C ?? []) expect(round).toMatchObject({ non2xx: 0 });
      for (const round of results.C ?? []) expect(round.p50_ms).toBeGreaterThanOrEqual(SLOW_MS / 2);
      expect(called.join('')).toBe('ABC' + 'BCA' + 'CAB' + 'ABC');
    }, 30_000);
  }
});
