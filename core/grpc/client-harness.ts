/**
 * A client of our `flipt.auth` proto, for the tests of the gRPC services: one service's client (closed when the
 * test ends), and unary calls resolving to the answer or to the status.
 */
import * as grpc from '@grpc/grpc-js';
import { onTestFinished } from 'vitest';
import { fliptAuthPackage } from './auth-services.ts';

export type FliptAuthClient = grpc.Client & Record<string, (...args: unknown[]) => void>;
/** A call's answer, or its refusal. */
export type Answer<T> = { ok: true; value: T } | { ok: false; code: number; details: string };

/** A client of `flipt.auth.<service>` at `address` (plain text), closed when the test ends. */
export function fliptAuthClient(address: string, service: string): FliptAuthClient {
  const fliptAuth = (fliptAuthPackage().flipt as grpc.GrpcObject).auth as grpc.GrpcObject;
  const Constructor = fliptAuth[service] as grpc.ServiceClientConstructor;
  const client = new Constructor(address, grpc.credentials.createInsecure()) as unknown as FliptAuthClient;
  onTestFinished(() => client.close());
  return client;
}

/** Calls a unary RPC with these metadata. */
export function unaryCall<T>(
  client: FliptAuthClient,
  rpc: string,
  request: object,
  metadata: Readonly<Record<string, string>> = {},
): Promise<Answer<T>> {
  const sent = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) sent.set(key, value);
  return new Promise((resolve) => {
    client[rpc]?.(request, sent, (error: grpc.ServiceError | null, value: T) =>
      resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true, value }),
    );
  });
}

/** The refusal `unaryCall` resolves to for a status. */
export const refused = (code: grpc.status, details: string): Answer<never> => ({ ok: false, code, details });
