import { onTestFinished } from 'vitest';
import type { RuntimeOptions } from '../runtime.ts';
import { type Server, startServer } from '../server.ts';

/** A server started for one test (closed when it ends), with its log lines captured. */
export interface TestServer {
  readonly server: Server;
  /** Every log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  url(path: string): string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * Starts `portcullis serve` in process on 127.0.0.1 and free ports (HTTP and gRPC, unless `config.server` names
 * them) with `config` as the configuration.
 */
export async function serveForTest(
  config: Record<string, unknown>,
  options: RuntimeOptions = {},
): Promise<TestServer> {
  const logs: Array<Record<string, unknown>> = [];
  const server = await startServer({
    object: {
      ...config,
      server: { host: '127.0.0.1', http_port: 0, grpc_port: 0, ...(config.server as object) },
    },
    env: {},
    logDestination: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
    ...options,
  });
  onTestFinished(() => server.close());
  const url = (path: string) => `${server.address}${path}`;
  return { server, logs, url, fetch: (path, init) => fetch(url(path), init) };
}

/** `Authorization: Bearer <token>`. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
