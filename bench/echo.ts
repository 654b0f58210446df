/**
 * `portcullis.test.Echo` (`core/test-support/echo.proto`, the gateway tests' service) for the bench's gRPC upstream
 * and its load: only `Unary` is called.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const proto = new URL('../core/test-support/echo.proto', import.meta.url).pathname;
const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { defaults: true }));

/** The service's definition (methods with their encoders), from the proto. */
export const echoService = (
  ((loaded.portcullis as grpc.GrpcObject).test as grpc.GrpcObject).Echo as grpc.ServiceClientConstructor
).service;

/** The method the bench calls: `EchoRequest {message, count}` → `EchoReply {message, metadata}`. */
export const UNARY_PATH = '/portcullis.test.Echo/Unary';

/** Its definition: `requestSerialize` and `responseDeserialize` encode and decode its messages. */
export const unary =
  echoService.Unary ??
  (() => {
    throw new Error('echo.proto has no Unary');
  })();
