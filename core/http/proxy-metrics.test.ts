import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { grpcStatusLabel } from '../grpc/upstream-proxy.ts';
import { scrape, value } from '../test-support/exposition.ts';
import { type EchoReply, echoClientConstructor, startEchoUpstream } from '../test-support/grpc-echo.ts';
import { httpServerForTest } from '../test-support/http-server.ts';
import { freePort } from '../test-support/ports.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { startUpstream } from '../test-support/upstream.ts';

/** `portcullis_proxy_requests_total` and `portcullis_proxy_upstream_seconds`, through a live server and upstream. */

const TOKEN = 'proxy-metrics-secret';
const REQUESTS = 'portcullis_proxy_requests_total';
const SECONDS = 'portcullis_proxy_upstream_seconds_count';

const serve = (upstream: string) =>
  serveForTest({
    authentication: {
      required: true,
      methods: { token: { enabled: true, storage: { tokens: { ci: { credential: TOKEN } } } } },
    },
    gateway: { upstream, timeout: '2s' },
  });

/** An upstream that answers `/status/<code>` with that status (an upgrade asked for too), anything else 200. */
function statusUpstream(): Promise<string> {
  return httpServerForTest((request, response) => {
    const code = /^\/status\/(\d{3})$/.exec(request.url ?? '')?.[1];
    response.writeHead(code === undefined ? 200 : Number(code)).end();
  });
}

/** Opens a websocket through `t` to `path`: the status the client saw (101 once open, or the refusal's). */
function websocket(t: TestServer, path: string): Promise<number> {
  const socket = new WebSocket(t.url(path).replace('http', 'ws'), { headers: bearer(TOKEN) });
  return new Promise<number>((resolve) => {
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', () => resolve(-1));
  });
}

describe('proxy metrics', () => {
  it('counts HTTP requests by the upstream’s status, times them, and counts an unreachable upstream as error', async () => {
    const t = await serve(await statusUpstream());
    const ok = { headers: bearer(TOKEN) };
    expect((await t.fetch('/a', ok)).status).toBe(200);
    expect((await t.fetch('/b?x=1', ok)).status).toBe(200);
    expect((await t.fetch('/status/404', ok)).status).toBe(404);
    expect((await t.fetch('/status/503', ok)).status).toBe(503);
    // Refused before the upstream: not a proxied request.
    expect((await t.fetch('/a')).status).toBe(401);
    let samples = await scrape(t.fetch);
    const http = (status: string) => value(samples, REQUESTS, { kind: 'http', status });
    expect(http('200')).toBe(2);
    expect(http('404')).toBe(1);
    expect(http('503')).toBe(1);
    expect(value(samples, REQUESTS, { kind: 'http' })).toBe(4);
    expect(value(samples, SECONDS, { kind: 'http' })).toBe(4);

    const down = await serve(`http://127.0.0.1:${await freePort()}`);
    expect((await down.fetch('/a', ok)).status).toBe(502);
    samples = await scrape(down.fetch);
    expect(value(samples, REQUESTS, { kind: 'http', status: 'error' })).toBe(1);
    // No answer, no time to it.
    expect(value(samples, SECONDS, { kind: 'http' })).toBe(0);
  });

  it('counts websocket upgrades by the upstream’s answer (101 or a refusal), and an unreachable upstream as error', async () => {
    const upstream = await startUpstream();
    const t = await serve(upstream.url);
    expect(await websocket(t, '/socket')).toBe(101);
    const refusing = await serve(await statusUpstream());
    expect(await websocket(refusing, '/status/403')).toBe(403);
    const down = await serve(`http://127.0.0.1:${await freePort()}`);
    expect(await websocket(down, '/socket')).toBe(502);

    let samples = await scrape(t.fetch);
    expect(value(samples, REQUESTS, { kind: 'websocket', status: '101' })).toBe(1);
    expect(value(samples, SECONDS, { kind: 'websocket' })).toBe(1);
    samples = await scrape(refusing.fetch);
    expect(value(samples, REQUESTS, { kind: 'websocket', status: '403' })).toBe(1);
    samples = await scrape(down.fetch);
    expect(value(samples, REQUESTS, { kind: 'websocket', status: 'error' })).toBe(1);
  });

  it('counts gRPC calls by the upstream’s status name, and an unreachable upstream as error', async () => {
    const upstream = await startEchoUpstream();
    const t = await serve(`h2c://${upstream.address}`);
    const Client = echoClientConstructor();
    const client = new Client(
      new URL(t.server.address).host,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
    onTestFinished(() => client.close());
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${TOKEN}`);
    const call = (method: string, request: Record<string, unknown>) =>
      new Promise<grpc.status>((resolve) =>
        client[method]?.(request, meta, (error: grpc.ServiceError | null, _reply: EchoReply) =>
          resolve(error?.code ?? grpc.status.OK),
        ),
      );
    expect(await call('Unary', { message: 'a' })).toBe(grpc.status.OK);
    expect(await call('Unary', { message: 'b' })).toBe(grpc.status.OK);
    expect(await call('Fail', { count: grpc.status.NOT_FOUND })).toBe(grpc.status.NOT_FOUND);
    expect(await call('Fail', { count: grpc.status.RESOURCE_EXHAUSTED })).toBe(
      grpc.status.RESOURCE_EXHAUSTED,
    );
    let samples = await scrape(t.fetch);
    const grpcCalls = (status: string) => value(samples, REQUESTS, { kind: 'grpc', status });
    expect(grpcCalls('OK')).toBe(2);
    expect(grpcCalls('NOT_FOUND')).toBe(1);
    expect(grpcCalls('RESOURCE_EXHAUSTED')).toBe(1);
    expect(value(samples, SECONDS, { kind: 'grpc' })).toBe(4);

    await upstream.close();
    expect(await call('Unary', { message: 'c' })).toBe(grpc.status.UNAVAILABLE);
    samples = await scrape(t.fetch);
    expect(grpcCalls('error')).toBe(1);
  });

  it('labels a gRPC status by name, UNKNOWN for what is not a code, error for none', () => {
    expect(grpcStatusLabel('0')).toBe('OK');
    expect(grpcStatusLabel('5')).toBe('NOT_FOUND');
    expect(grpcStatusLabel(['16'])).toBe('UNAUTHENTICATED');
    expect(grpcStatusLabel('99')).toBe('UNKNOWN');
    expect(grpcStatusLabel('x')).toBe('UNKNOWN');
    expect(grpcStatusLabel(undefined)).toBe('error');
  });
});
