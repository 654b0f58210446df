import { type ErrorCode, ErrorCodes } from './errors.ts';
import { GrpcCode, type GrpcCodeValue, httpStatus } from './grpc-status.ts';

/**
 * How a client is answered when a request fails with one of our codes: the gRPC status (the HTTP status follows
 * from it, as grpc-gateway maps it), and whether the message is shown. A code whose message may hold details of the
 * server (a file path, a plugin's words, what another service answered) is answered as `INTERNAL` with the message
 * `internal error`, and logged; so are the codes that stop start-up, which no request should ever meet.
 */
export type ErrorStatus =
  | { readonly grpc: GrpcCodeValue; readonly shown: true }
  | { readonly grpc: typeof GrpcCode.INTERNAL; readonly shown: false };

const HIDDEN = { grpc: GrpcCode.INTERNAL, shown: false } as const;

/**
 * Every code's status, for the HTTP API's error handler and the gRPC server alike. Typed by the code union: a code
 * added to {@link ErrorCodes} without a status here does not compile. The README's error table shows the same
 * (a test keeps them in step).
 */
export const ERROR_STATUS: Readonly<Record<ErrorCode, ErrorStatus>> = {
  [ErrorCodes.CONFIG_INVALID]: HIDDEN,
  [ErrorCodes.CONFIG_NOT_FOUND]: HIDDEN,
  [ErrorCodes.CONFIG_READ]: HIDDEN,
  [ErrorCodes.SECRET_REFERENCE_INVALID]: HIDDEN,
  [ErrorCodes.SECRET_NOT_FOUND]: HIDDEN,
  [ErrorCodes.SECRET_RESOLUTION]: HIDDEN,
  [ErrorCodes.SECRET_PROVIDER]: HIDDEN,
  [ErrorCodes.PLUGIN_LOAD]: HIDDEN,
  [ErrorCodes.PLUGIN_INVALID]: HIDDEN,
  [ErrorCodes.PLUGIN_API_MISMATCH]: HIDDEN,
  [ErrorCodes.PLUGIN_CONFLICT]: HIDDEN,
  [ErrorCodes.PLUGIN_FAILED]: HIDDEN,
  [ErrorCodes.SERVER_START]: HIDDEN,
  [ErrorCodes.NOT_FOUND]: { grpc: GrpcCode.NOT_FOUND, shown: true },
  [ErrorCodes.INVALID_ARGUMENT]: { grpc: GrpcCode.INVALID_ARGUMENT, shown: true },
  [ErrorCodes.UNAVAILABLE]: { grpc: GrpcCode.UNAVAILABLE, shown: true },
  [ErrorCodes.UNAUTHENTICATED]: { grpc: GrpcCode.UNAUTHENTICATED, shown: true },
  [ErrorCodes.PERMISSION_DENIED]: { grpc: GrpcCode.PERMISSION_DENIED, shown: true },
  [ErrorCodes.RESOURCE_EXHAUSTED]: { grpc: GrpcCode.RESOURCE_EXHAUSTED, shown: true },
  [ErrorCodes.INTERNAL]: { grpc: GrpcCode.INTERNAL, shown: true },
  [ErrorCodes.JWKS_COOLDOWN]: { grpc: GrpcCode.UNAVAILABLE, shown: true },
  [ErrorCodes.BODY_TOO_LARGE]: HIDDEN,
  [ErrorCodes.FILE_TOO_LARGE]: HIDDEN,
};

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** Whether `code` is one of ours (declared in {@link ErrorCodes}). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && CODES.has(code);
}

/** The status of one of our codes, with the HTTP status grpc-gateway gives its gRPC code. */
export function errorStatus(code: ErrorCode): ErrorStatus & { readonly http: number } {
  const status = ERROR_STATUS[code];
  return { ...status, http: httpStatus(status.grpc) };
}
