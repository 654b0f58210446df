import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.ts';
import { AUTH_SERVICES, authServices, type ServiceBinding, serviceDefinition } from './auth-services.ts';
import { authorizationDefinition, extAuthzService } from './ext-authz.ts';
import { METHOD_SERVICES, methodServices } from './method-services.ts';

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
 * Every service's handlers, bound once, each call going to the bindings of the runtime in force (built once per
 * runtime): the server's services cannot change after it starts, the configuration behind them can.
 */
function dispatching(current: GrpcServerOptions['current']): ServiceBinding[] {
  const bindings = new WeakMap<Runtime, ReadonlyMap<string, ServiceBinding>>();
  const of = ({ runtime, app }: ReturnType<GrpcServerOptions['current']>) => {
    let found = bindings.get(runtime);
    if (found === undefined) {
      const all = [...authServices(runtime), ...methodServices(runtime, app), extAuthzService(runtime)];
      found = new Map(all.map((binding) => [binding.name, binding]));
      bindings.set(runtime, found);
    }
    return found;
  };
  const services = [
    ...[...AUTH_SERVICES, ...METHOD_SERVICES].map((service) => ({
      name: `flipt.auth.${service}`,
      definition: serviceDefinition(service),
    })),
    { name: 'envoy.service.auth.v3.Authorization', definition: authorizationDefinition() },
  ];
  return services.map(({ name, definition }) => ({
    name,
    definition,
    implementation: Object.fromEntries(
      Object.keys(definition).map((method) => [
        method,
        (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          const binding = of(current()).get(name);
          // Not served by this configuration (no method enabled, required false): as if unregistered, as in Flipt.
          if (binding === undefined) {
            callback({ code: grpc.status.UNIMPLEMENTED, details: `unknown service ${name}` });
            return;
          }
          (binding.implementation[method] as grpc.handleUnaryCall<unknown, unknown>)(call, callback);
        },
      ]),
    ),
  }));
}

/**
 * Serves Flipt's `flipt.auth` services on `host:port` (Flipt's `server.grpc_port`, default 9000), with TLS when
 * given. The listening address is known when it resolves.
 *
 * @throws Error when the address cannot be bound (in use, not an address of this machine)
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const { maxIdleMs, maxAgeMs, maxAgeGraceMs } = options.connections ?? {};
  const server = new grpc.Server({
    ...(maxIdleMs !== undefined && { 'grpc.max_connection_idle_ms': maxIdleMs }),
    ...(maxAgeMs !== undefined && { 'grpc.max_connection_age_ms': maxAgeMs }),
    ...(maxAgeGraceMs !== undefined && { 'grpc.max_connection_age_grace_ms': maxAgeGraceMs }),
  });
  for (const binding of dispatching(options.current))
    server.addService(binding.definition, binding.implementation);
  const credentials =
    options.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(
          null,
          [{ cert_chain: options.tls.cert, private_key: options.tls.key }],
          false,
        );
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port}`, credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    address: `${host}:${port}`,
    close(graceMs = GRACE_MS) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
