/**
 * `portcullis/plugin`: the plugin kit. The contracts a method or a secret store implements, and every runtime
 * helper our own five methods and five stores use; they import nothing else of portcullis (a lint rule holds them
 * to it), so a third-party plugin can do whatever a built-in does.
 *
 * Errors the helpers throw carry a stable `code` (the README's error table). Helpers that enforce a rule from a
 * specification or from Flipt name their source in their own documentation.
 *
 * @packageDocumentation
 */

// Reading what others send, with a size limit.
export { BodyTooLargeError, readTextLimited } from '../../auth/bounded-body.ts';
export { claimText, resolvePointer } from '../../auth/claims.ts';
export { assertCompactJws, CompactJwsError } from '../../auth/compact-jws.ts';
// A credential from a request header is the bytes the client sent: hash or compare credentialBytes(value).
export { credentialBytes } from '../../auth/credential-bytes.ts';
export { type AuthenticationJson, authenticationJson, goJson } from '../../auth/json.ts';
// Signed tokens: key sets, verification, time claims, claims mapping.
export {
  JWKS_MIN_INTERVAL_MS,
  JwksCooldownError,
  type JwtVerification,
  jwtVerification,
  type KeySet,
  localKeySet,
  remoteKeySet,
  staticKeySet,
  TimeClaimError,
  type VerifiedJwt,
  type VerifyJwtOptions,
  verifyJwt,
} from '../../auth/jwks.ts';
export {
  DEFAULT_JWT_CLAIMS_MAPPING,
  type JwtAttribute,
  jwtAuthentication,
  jwtIdentity,
  jwtMetadata,
} from '../../auth/jwt-claims.ts';
export {
  acceptedUntilMs,
  CAP_ASSUMED_LIFETIME_S,
  TIME_CLAIM_RULES,
  type TimeClaimRules,
  type TokenKind,
  timeClaimsProblem,
} from '../../auth/time-claims.ts';
export { timestampField } from '../../auth/timestamp.ts';
// Client tokens and the API's JSON.
export { hashClientToken } from '../../auth/token.ts';
export { VerifiedTokens } from '../../auth/verified-tokens.ts';
export { mentioning, quoteValue, valueText } from '../../config/describe-value.ts';
export { formatGoDuration, parseGoDuration } from '../../config/duration.ts';
// Configuration messages, worded as Flipt words them, and values shown safely (escaped, cut).
export { fieldMessage, isBlank, requiredMessage, statFailure } from '../../config/flipt-messages.ts';
export { parseGoBool } from '../../config/go-bool.ts';
// Coded errors.
export { type ErrorCode, ErrorCodes, errorCode, errorMessage, PluginError } from '../../errors.ts';
export { FileTooLargeError, MAX_NAMED_FILE_BYTES, readTextFileLimited } from '../../fs/read-limited.ts';
export type { MaybePromise } from '../../maybe-promise.ts';
// Secret references and secret stores.
export { isSecretReference } from '../../references/parse.ts';
export { secretNotFound, selectSecretKey } from '../../references/select-key.ts';
export { isHttpUrl, parseUrl } from '../../url.ts';
export type * from '../contracts.ts';
// An authentication handed out many times, made once and checked once.
export { frozenAuthentication } from '../instance.ts';
export type { MethodDefinition, SecretProviderDefinition } from './define.ts';
export { defineMethod, defineSecretProvider, type FromSchema } from './define.ts';
// Telling a peer that is down from one that refused.
export { NETWORK_ERROR_CODES, networkErrorCode } from './network-errors.ts';
// The keys of one secret from one read.
export { sharedCalls } from './shared-calls.ts';
export { KIT_API_VERSION } from './version.ts';
