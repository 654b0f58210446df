/** gRPC status codes, which Flipt's HTTP gateway puts in the `code` field of every error body. */
export const GrpcCode = {
  CANCELED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** One of {@link GrpcCode}'s values. */
export type GrpcCodeValue = (typeof GrpcCode)[keyof typeof GrpcCode];

/** The HTTP status grpc-gateway gives each code (`HTTPStatusFromCode` in its runtime/errors.go). */
const HTTP_STATUS: Readonly<Record<GrpcCodeValue, number>> = {
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/** The HTTP status for a gRPC code, as grpc-gateway maps it. */
export function httpStatus(code: GrpcCodeValue): number {
  return HTTP_STATUS[code];
}

/** The name of a gRPC code (`UNAUTHENTICATED`), as gRPC's documentation and the README write it. */
export function grpcCodeName(code: GrpcCodeValue): keyof typeof GrpcCode {
  return (Object.keys(GrpcCode) as Array<keyof typeof GrpcCode>).find(
    (name) => GrpcCode[name] === code,
  ) as keyof typeof GrpcCode;
}
