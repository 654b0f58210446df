import { lookup } from 'node:dns/promises';
import { type AddressInfo, createServer, isIP, type Server as Listener, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import type { Serving } from './serving.ts';

/** The gRPC server of `portcullis serve`. */
export interface GrpcServer {
  /** `host:port` it listens on (the port the system picked, for `grpc_port: 0`). */
  readonly address: string;
  /** Stops taking calls, lets those in flight finish for up to `graceMs` (then cancels them), and resolves. */
  close(graceMs?: number): Promise<void>;
}

export interface GrpcServerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM certificate chain and key: TLS, as the HTTP server has with `protocol: https`. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /**
   * The configuration in force, its runtime and its HTTP application (whose method routes the methods' services go
   * through): a reload swaps them, and the next call is answered by the new ones.
   */
  readonly current: () => { readonly runtime: Runtime; readonly app: FastifyInstance };
  /**
   * Flipt's keepalive settings (`server.grpc_conn_max_idle_time`, `grpc_conn_max_age`, `grpc_conn_max_age_grace`),
   * in milliseconds; unset is never (as in Flipt, `internal/cmd/grpc.go`).
   */
  readonly connections?: {
    readonly maxIdleMs?: number | undefined;
    readonly maxAgeMs?: number | undefined;
    readonly maxAgeGraceMs?: number | undefined;
  };
}

/** How long a stop waits for calls in flight by default (milliseconds). */
const GRACE_MS = 5_000;

/**
 * The addresses `host` names, as grpc-js's resolver finds them for a bind (an IP address is itself; a name, every
 * address `dns.lookup` gives, in its order); a name that resolves to nothing fails as grpc-js says it.
 */
async function addressesOf(host: string, port: number): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  const found = await lookup(host, { all: true }).catch(() => []);
  if (found.length === 0) throw new Error(`Name resolution failed for target dns:${host}:${port}`);
  return found.map(({ address }) => address);
}

/** A listener on `address:port` whose connections stay paused (unread) until `accept` takes them. */
function listen(address: string, port: number, accept: (socket: Socket) => void): Promise<Listener> {
  const listener = createServer({ pauseOnConnect: true }, accept);
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ host: address, port }, () => {
      listener.off('error', reject);
      resolve(listener);
    });
  });
}

/**
 * Binds every address of `host` as grpc-js's `bindAsync` does: with port 0, the first address that binds picks the
 * port and the others take the same; some failing is fine, all failing is an error listing why each did.
 */
async function bindAll(
  host: string,
  port: number,
  accept: (socket: Socket) => void,
): Promise<{ listeners: Listener[]; port: number }> {
  const addresses = await addressesOf(host, port);
  const listeners: Listener[] = [];
  const errors: string[] = [];
  const attempt = async (address: string, onPort: number) => {
    try {
      listeners.push(await listen(address, onPort, accept));
    } catch (error) {
      errors.push(errorMessage(error));
    }
  };
  let rest = addresses;
  if (port === 0) {
    while (listeners.length === 0 && rest.length > 0) {
      await attempt(rest[0] as string, 0);
      rest = rest.slice(1);
    }
  }
  const [first] = listeners;
  const chosen = first === undefined ? port : (first.address() as AddressInfo).port;
  await Promise.all(rest.map((address) => attempt(address, chosen)));
  if (listeners.length === 0) {
    throw new Error(
      `No address added out of total ${addresses.length} resolved errors: [${errors.join(',')}]`,
    );
  }
  return { listeners, port: chosen };
}

/**
 * Serves Flipt's `flipt.auth` services on `host:port` (Flipt's `server.grpc_port`, default 9000), with TLS when
 * given. The listening address is known when it resolves: the port is bound here, at start-up, so that a port in
 * use still stops the start. grpc-js and the services (loading grpc-js and protobufjs and parsing the `.proto`
 * files: about 70 ms, which start-up no longer spends) are loaded by the first connection, which waits for
 * them unread; later ones go straight to grpc-js.
 *
 * @throws Error when the address cannot be bound (in use, not an address of this machine)
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  let serving: Promise<Serving> | undefined;
  let closing: Promise<void> | undefined;
  const accept = (socket: Socket) => {
    // A client that resets while grpc-js loads must not be an uncaught error; grpc-js handles its own afterwards.
    const drop = () => socket.destroy();
    socket.on('error', drop);
    serving ??= import('./serving.ts').then(({ createServing }) => createServing(options));
    serving.then(
      (served) => {
        socket.off('error', drop);
        if (closing !== undefined || socket.destroyed) socket.destroy();
        else {
          served.inject(socket);
          // Accepted paused, it is not reading yet: HTTP/2 takes over its handle but does not start it.
          socket.resume();
        }
      },
      (error: unknown) => {
        options.current().runtime.log.error({ reason: errorMessage(error) }, 'gRPC services failed to load');
        socket.destroy();
      },
    );
  };
  const { listeners, port } = await bindAll(options.host, options.port, accept);
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    address: `${host}:${port}`,
    close(graceMs = GRACE_MS) {
      closing ??= (async () => {
        // Stops accepting at once; the connections grpc-js has are closed by its shutdown.
        for (const listener of listeners) listener.close();
        const served = await serving?.catch(() => undefined);
        await served?.shutdown(graceMs);
      })();
      return closing;
    },
  };
}
