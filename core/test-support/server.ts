import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import type { RuntimeOptions } from '../runtime.ts';
import { type Server, startServer } from '../server.ts';
import { tempDir } from './tmp.ts';

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

/**
 * A server started from a configuration file that the test rewrites (then `server.reload()`): the static token `ci`
 * with `credential` (`write(credential)` changes it), `gateway.upstream` as given, free ports.
 */
export async function serveReloadable(
  upstream: string,
  credential: string,
): Promise<TestServer & { write(credential: string): void }> {
  const file = join(tempDir(), 'config.yaml');
  const write = (credential: string) =>
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
        authentication: {
          required: true,
          methods: { token: { enabled: true, storage: { tokens: { ci: { credential } } } } },
        },
        gateway: { upstream },
      }),
    );
  write(credential);
  return { ...(await serveForTest({}, { object: undefined, file })), write };
}
