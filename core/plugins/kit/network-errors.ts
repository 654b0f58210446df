/**
 * Node's error codes (`error.code`, from libuv and the DNS resolver) for a peer that cannot be reached or went away
 * mid-call: a store or an identity provider that is down, not one that refused. What a plugin words as
 * "unreachable" and the runtime treats as worth trying again (`ERR_UNAVAILABLE`).
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * The {@link NETWORK_ERROR_CODES} member that `error`, or an error in its `cause` chain (SDKs wrap Node's error),
 * carries as `code`; `undefined` when none does.
 */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return code;
    current = cause;
  }
  return undefined;
}
