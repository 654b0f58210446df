/**
 * Codes of other libraries' errors that portcullis reads: it branches on them, or gives an error of its own one of
 * them on purpose so that callers treat both alike. They are not ours, so they are neither in `ErrorCodes` nor in
 * the README's error table; core/errors.test.ts fails on any `ERR_…` or `UND_ERR_…` name in the sources that is
 * neither declared in `ErrorCodes` nor listed here, and on an entry here that no source mentions any more.
 */
export const FOREIGN_ERROR_CODES: Readonly<Record<string, string>> = {
  // jose (node_modules/jose/dist/webapi/util/errors.js): its classes, thrown inside verifyJwt (core/auth/jwks.ts) by
  // core/auth/jws-verify.ts, which makes jose's `jwtVerify` checks, and by jose itself (a key set's getKey).
  // A method's refusal with one of them is logged with the reason id the code gives (`jws_invalid`, ...).
  ERR_JWS_INVALID:
    'jose: a JWS that cannot be parsed; also the code of CompactJwsError (core/auth/compact-jws.ts), which refuses a token that is not a strict compact JWS before jose reads it',
  ERR_JWT_INVALID: 'jose: a JWT whose payload is not a JSON object of claims',
  ERR_JOSE_ALG_NOT_ALLOWED: "jose: a token signed with an algorithm outside the method's allow-list",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'jose: the signature does not verify with the key tried',
  ERR_JWKS_NO_MATCHING_KEY: "jose: no key of the set fits the token's kid and algorithm",
  ERR_JWKS_INVALID:
    'jose: a JSON Web Key Set that is not { keys: [...] } of public keys; localKeySet (core/auth/jwks.ts) throws it when given one',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS:
    'jose: several keys fit; verifyJwt then tries each (core/auth/jwks.ts), as go-oidc does',
  ERR_JWT_CLAIM_VALIDATION_FAILED:
    'jose: a claim check failed (iss, aud, sub, typ, a required claim); also the code of TimeClaimError (core/auth/jwks.ts) for the time claims, which portcullis checks itself',
  ERR_JWT_EXPIRED:
    "jose: an expired token; jose's own time checks are switched off in verifyJwt, so it is only read (a key-independent failure)",
  // Node.js (https://nodejs.org/api/errors.html#nodejs-error-codes).
  ERR_STREAM_DESTROYED:
    'Node: a write to a stream already destroyed; bin/closed-pipes.ts reads it as a closed standard output or error',
  ERR_INVALID_ARG_VALUE:
    "Node: an argument Node refuses before asking the system (a path holding a NUL byte); core/config/flipt-messages.ts words it as Go's stat does",
  ERR_TLS_CERT_ALTNAME_INVALID:
    'Node: a server certificate that does not name the host; the vault and azure stores word it as a TLS problem of the store, not as the store being down',
  ERR_SSL:
    'Node: the prefix of the codes OpenSSL errors get (ERR_SSL_…); the azure store words them as a TLS problem of the vault',
  ERR_HTTP_REQUEST_TIMEOUT:
    "Node's HTTP server: a request not received within requestTimeout; core/http/client-errors.ts answers 408",
  // undici (node_modules/undici/lib/core/errors.js), the reverse proxy's and fetch's HTTP client.
  UND_ERR_CONNECT_TIMEOUT: 'undici: connecting to the upstream took too long; core/http/proxy.ts answers 504',
  UND_ERR_HEADERS_TIMEOUT:
    "undici: the upstream's answer headers took too long; core/http/proxy.ts answers 504",
  UND_ERR_BODY_TIMEOUT: "undici: the upstream's answer body stalled; core/http/proxy.ts answers 504",
  UND_ERR_INVALID_ARG:
    'undici: a request it refuses to send as given (a header value it finds invalid); core/http/proxy.ts answers 400',
};
