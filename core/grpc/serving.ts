import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { Runtime } from '../runtime.ts';
import { AUTH_SERVICES, authServices, type ServiceBinding, serviceDefinition } from './auth-services.ts';
import { authorizationDefinition, extAuthzService } from './ext-authz.ts';
import { METHOD_SERVICES, methodServices } from './method-services.ts';
import type { GrpcServerOptions } from './server.ts';

/**
 * grpc-js with every service registered, taking the connections `server.ts` accepted. This module (and with it
 * grpc-js, @grpc/proto-loader and protobufjs, and the parsing of the `.proto` files) is imported by the first gRPC
 * connection rather than at start-up, which it would slow by about 70 ms.
 */
export interface Serving {
  /** Hands grpc-js a connection accepted on `server.grpc_port` (TLS, when configured, is grpc-js's to do). */
  inject(connection: Duplex): void;
  /** Stops taking calls, lets those in flight finish for up to `graceMs` (then cancels them), and resolves. */
  shutdown(graceMs: number): Promise<void>;
}

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

/** A grpc-js server with Flipt's services and Envoy's `Authorization`, fed connections rather than bound to a port. */
export function createServing(options: GrpcServerOptions): Serving {
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
  // The injector's HTTP/2 server is the one bindAsync would have listened with: same options, keepalive included.
  const injector = server.createConnectionInjector(credentials);
  return {
    inject: (connection) => injector.injectConnection(connection),
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
