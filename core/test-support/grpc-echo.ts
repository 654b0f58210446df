import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { onTestFinished } from 'vitest';

const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));

export interface EchoRequest {
  message?: string;
  count?: number;
}
export interface EchoReply {
  message: string;
  metadata: Record<string, string>;
}

/** `portcullis.test.Echo`'s client constructor, from `echo.proto`. */
export function echoClientConstructor(): grpc.ServiceClientConstructor {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO, { defaults: true }));
  return ((loaded.portcullis as grpc.GrpcObject).test as grpc.GrpcObject)
    .Echo as grpc.ServiceClientConstructor;
}

/** The metadata a call arrived with, as text (binary values base64). */
function metadataOf(metadata: grpc.Metadata): Record<string, string> {
  const seen: Record<string, string> = {};
  for (const [key, values] of Object.entries(metadata.getMap())) {
    seen[key] = Buffer.isBuffer(values) ? values.toString('base64') : String(values);
  }
  return seen;
}

/** A running echo upstream: its address and every call it received (method and metadata), in order. */
export interface EchoUpstream {
  readonly address: string;
  readonly calls: Array<{ method: string; metadata: Record<string, string> }>;
  /** Calls cancelled by their client (the gateway), by method. */
  readonly cancelled: string[];
  close(): Promise<void>;
}

/**
 * Starts a real gRPC server (grpc-js) of `portcullis.test.Echo` on 127.0.0.1: `Unary` echoes, `ServerStream`
 * answers `count` times, `ClientStream` joins what it received, `Bidi` echoes each message as it comes, `Fail` ends
 * with status `count`, message "failed on purpose" and the trailing metadata `x-detail: kept`. Cleartext (h2c)
 * unless `credentials` are given. Closed when the test ends.
 */
export async function startEchoUpstream(
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<EchoUpstream> {
  const calls: EchoUpstream['calls'] = [];
  const cancelled: string[] = [];
  const seen = (
    method: string,
    call: { metadata: grpc.Metadata; on(event: 'cancelled', f: () => void): unknown },
  ) => {
    const metadata = metadataOf(call.metadata);
    calls.push({ method, metadata });
    call.on('cancelled', () => cancelled.push(method));
    return metadata;
  };
  const server = new grpc.Server();
  server.addService(echoClientConstructor().service, {
    Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, done: grpc.sendUnaryData<EchoReply>) {
      const metadata = seen('Unary', call);
      done(null, { message: call.request.message ?? '', metadata });
    },
    ServerStream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
      const metadata = seen('ServerStream', call);
      for (let i = 0; i < (call.request.count ?? 0); i++) {
        call.write({ message: `${call.request.message ?? ''}#${i}`, metadata });
      }
      if (call.request.message !== 'fail') return void call.end();
      // A status after messages: it comes in trailers, not in a trailers-only answer.
      const trailer = new grpc.Metadata();
      trailer.set('x-detail', 'after-messages');
      call.emit('error', { code: grpc.status.ABORTED, details: 'failed after messages', metadata: trailer });
    },
    ClientStream(
      call: grpc.ServerReadableStream<EchoRequest, EchoReply>,
      done: grpc.sendUnaryData<EchoReply>,
    ) {
      const metadata = seen('ClientStream', call);
      const parts: string[] = [];
      call.on('data', (request: EchoRequest) => parts.push(request.message ?? ''));
      call.on('end', () => done(null, { message: parts.join('+'), metadata }));
    },
    Bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) {
      const metadata = seen('Bidi', call);
      call.on('data', (request: EchoRequest) =>
        call.write({ message: `echo:${request.message ?? ''}`, metadata }),
      );
      call.on('end', () => call.end());
    },
    Fail(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, done: grpc.sendUnaryData<EchoReply>) {
      seen('Fail', call);
      const trailer = new grpc.Metadata();
      trailer.set('x-detail', 'kept');
      done({
        code: call.request.count ?? grpc.status.INTERNAL,
        details: 'failed on purpose',
        metadata: trailer,
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const close = () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  onTestFinished(() => {
    server.forceShutdown();
  });
  return { address: `127.0.0.1:${port}`, calls, cancelled, close };
}
