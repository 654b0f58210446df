import type { Authentication, JsonValue } from '../plugins/contracts.ts';

/**
 * Flipt's messages as @grpc/proto-loader hands them over with {@link PROTO_OPTIONS}: camelCase fields, enums as
 * their names, 64-bit integers as strings, defaults filled in.
 */
export const PROTO_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

/** `google.protobuf.Timestamp`: seconds since the epoch (a string: it is 64-bit) and nanoseconds. */
export interface Timestamp {
  readonly seconds: string;
  readonly nanos: number;
}

/** `flipt.auth.Authentication`. */
export interface AuthenticationMessage {
  readonly id: string;
  readonly method: string | number;
  readonly expiresAt: Timestamp | null;
  readonly createdAt: Timestamp | null;
  readonly updatedAt: Timestamp | null;
  readonly metadata: Record<string, string>;
}

/** `google.protobuf.Value`, as proto-loader writes its `kind` oneof. */
type ValueMessage =
  | { nullValue: 'NULL_VALUE' }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: StructMessage }
  | { listValue: { values: ValueMessage[] } };

/** `google.protobuf.Struct`. */
export interface StructMessage {
  readonly fields: Record<string, ValueMessage>;
}

/** The method names of Flipt's `flipt.auth.Method` enum; a plugin's own method goes by its number. */
const FLIPT_METHODS = new Set([
  'METHOD_NONE',
  'METHOD_TOKEN',
  'METHOD_OIDC',
  'METHOD_KUBERNETES',
  'METHOD_GITHUB',
  'METHOD_JWT',
  'METHOD_CLOUD',
]);

export function toTimestamp(date: Date | undefined): Timestamp | null {
  if (date === undefined) return null;
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** A timestamp as a date; `undefined` for an unset one. */
export function fromTimestamp(timestamp: Timestamp | null | undefined): Date | undefined {
  if (timestamp === null || timestamp === undefined) return undefined;
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000));
}

/**
 * A method's enum value on the wire: its name when Flipt's enum has it, else the number its plugin declares
 * (`methodNumber`), else `METHOD_NONE`'s 0 (protobuf enums are open: a client keeps the number it does not know).
 */
export function toMethod(method: string, methodNumber?: number): string | number {
  if (FLIPT_METHODS.has(method)) return method;
  return methodNumber ?? 0;
}

export function toAuthenticationMessage(
  authentication: Authentication,
  methodNumber?: number,
): AuthenticationMessage {
  return {
    id: authentication.id,
    method: toMethod(authentication.method, methodNumber),
    expiresAt: toTimestamp(authentication.expiresAt),
    createdAt: toTimestamp(authentication.createdAt),
    updatedAt: toTimestamp(authentication.updatedAt),
    metadata: { ...authentication.metadata },
  };
}

function toValue(value: JsonValue): ValueMessage {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value) };
}

/** A JSON object as a `google.protobuf.Struct`. */
export function toStruct(object: { readonly [key: string]: JsonValue }): StructMessage {
  return { fields: Object.fromEntries(Object.entries(object).map(([key, value]) => [key, toValue(value)])) };
}
