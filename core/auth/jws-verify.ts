/**
 * jose's `jwtVerify` for a compact JWT, step for step, with the signature checked by `node:crypto` (a `Verify`
 * object; `verify()` for EdDSA) instead of WebCrypto's `crypto.subtle.verify`: the same OpenSSL check, done on the
 * calling thread rather than queued to the threadpool as a job and awaited: through verifyJwt, a first-seen ES256
 * token costs a quarter less CPU, an RS256 one half (bench/jwt-verify-cpu.ts).
 *
 * Every check jose makes is made here in jose's order with jose's error classes and messages (jose 6,
 * node_modules/jose/dist/webapi: lib/jws_verify.js `verifySignature`, lib/validate.js `validateCrit` and
 * `validateB64`, lib/key.js `prepareKey` and `checkCryptoKey`, jwt/verify.js, lib/jwt_claims_set.js
 * `validateClaimsSet`), so that callers see the codes, messages, `claim` and `reason` they saw from jose:
 * jws-verify.test.ts holds the two side by side over generated tokens. What is not jose's everyday case — a key
 * that is not a `CryptoKey` (a JWK, a `KeyObject`, a secret), an algorithm this file has no `node:crypto`
 * parameters for (HMAC, ML-DSA), a `CryptoKey` Node cannot turn into a `KeyObject` — is handed to `jwtVerify`
 * itself with the key already resolved.
 */
import { constants, createVerify, KeyObject, verify } from 'node:crypto';
import type {
  CryptoKey,
  FlattenedJWSInput,
  KeyObject as JoseKeyObject,
  JWK,
  JWTHeaderParameters,
  JWTPayload,
  JWTVerifyGetKey,
  JWTVerifyOptions,
} from 'jose';
import { type MaybePromise, settle } from '../maybe-promise.ts';
import { markParsedClaims } from './parsed-claims.ts';

/**
 * jose's error classes (its `errors` module alone, not its index), loaded by the first verification: the kit loads
 * no package when imported. Every function below runs after it is set ({@link joseErrorsLoading}).
 */
let errors: typeof import('jose/errors');
let loadingErrors: Promise<void> | undefined;

/**
 * `undefined` once jose's error classes are loaded, which {@link verifySigned} needs; until then, a promise of
 * their loading (started by the first call).
 */
export function joseErrorsLoading(): Promise<void> | undefined {
  if (errors !== undefined) return undefined;
  loadingErrors ??= import('jose/errors').then((loaded) => {
    errors = loaded;
  });
  return loadingErrors;
}

/** A verified token. */
export interface VerifiedJwt {
  readonly payload: JWTPayload;
  readonly protectedHeader: JWTHeaderParameters;
}

/**
 * The checks of jose's `jwtVerify` that {@link verifySignedJwt} makes. jose's time checks are not among them (a
 * table of time rules decides, `TIME_CLAIM_RULES`), nor `maxTokenAge`, `clockTolerance` and `currentDate`: `now`
 * stands for the last.
 */
export interface JwtChecks
  extends Pick<
    JWTVerifyOptions,
    'algorithms' | 'crit' | 'issuer' | 'subject' | 'audience' | 'typ' | 'requiredClaims'
  > {
  /**
   * The current time, ms since the epoch. jose still reads it with its time checks switched off: an `nbf` past
   * now + 2^53 s, or an `exp` before now − 2^53 s, is refused (`ERR_JWT_CLAIM_VALIDATION_FAILED` /
   * `ERR_JWT_EXPIRED`), and a time that is not finite throws a TypeError.
   */
  readonly now: number;
}

/** The option names of {@link JwtChecks} (all of them: the compiler holds the two in step). */
const CHECKS = {
  algorithms: true,
  crit: true,
  issuer: true,
  subject: true,
  audience: true,
  typ: true,
  requiredClaims: true,
  now: true,
} as const satisfies Record<keyof JwtChecks, true>;

/** The option names of {@link JwtChecks}, for refusing any other at run time too (a JavaScript caller's). */
export const JWT_CHECK_NAMES: ReadonlySet<string> = new Set(Object.keys(CHECKS));

/** What a key set's `getKey` resolves to, or a key given directly. */
export type VerificationKey = CryptoKey | JoseKeyObject | JWK | Uint8Array;

/**
 * The tolerance that switches jose's clock checks off: no finite one can be exceeded by a date a token holds, except
 * one past 2^53 s, which jose refuses and this file refuses alike.
 */
const NO_CLOCK = Number.MAX_SAFE_INTEGER;

/** jose's options for the same checks: what the fallback, and the tests, give `jwtVerify`. */
export function joseOptions(checks: JwtChecks): JWTVerifyOptions {
  const { now, ...rest } = checks;
  return { ...rest, currentDate: new Date(now), clockTolerance: NO_CLOCK };
}

/** How one algorithm is checked: what jose wants of the CryptoKey, and what `node:crypto` verifies with. */
interface Algorithm {
  /** jose's `entry.subtle`: the key's WebCrypto algorithm name, and its hash or curve. */
  readonly name: string;
  readonly hash?: string;
  readonly namedCurve?: string;
  /** RSA: jose refuses a modulus shorter than 2048 bits. */
  readonly minRsaBits?: number;
  /** `node:crypto`'s digest (`null` for EdDSA, whose hash is part of the scheme). */
  readonly digest: string | null;
  /** The key options `verify()` takes besides the key: padding, salt length, signature encoding. */
  readonly options: { padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' };
}

const rsa = (bits: number, name: string, options: Algorithm['options']): Algorithm => ({
  name,
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  digest: `sha${bits}`,
  options,
});
const pkcs1 = (bits: number) => rsa(bits, 'RSASSA-PKCS1-v1_5', { padding: constants.RSA_PKCS1_PADDING });
// jose's RSA-PSS salt is as long as the hash, and WebCrypto checks it is exactly that long; so does OpenSSL given it.
const pss = (bits: number) =>
  rsa(bits, 'RSA-PSS', { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 });
// JWS ES* signatures are r ‖ s (RFC 7518 §3.4), WebCrypto's format; node:crypto reads DER unless told.
const ecdsa = (namedCurve: string, bits: number): Algorithm => ({
  name: 'ECDSA',
  namedCurve,
  digest: `sha${bits}`,
  options: { dsaEncoding: 'ieee-p1363' },
});
const ed25519: Algorithm = { name: 'Ed25519', digest: null, options: {} };

/** The algorithms verified here; jose's others (HMAC, ML-DSA) go to jose. */
const ALGORITHMS: ReadonlyMap<string, Algorithm> = new Map([
  ['RS256', pkcs1(256)],
  ['RS384', pkcs1(384)],
  ['RS512', pkcs1(512)],
  ['PS256', pss(256)],
  ['PS384', pss(384)],
  ['PS512', pss(512)],
  ['ES256', ecdsa('P-256', 256)],
  ['ES384', ecdsa('P-384', 384)],
  ['ES512', ecdsa('P-521', 512)],
  ['EdDSA', ed25519],
  ['Ed25519', ed25519],
]);

/** jose's `strictDecoder`: malformed UTF-8 is an error (and a leading BOM is dropped, as it drops it). */
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** jose's `isObject`: a plain object, not an array or null. */
function isObject(input: unknown): input is Record<string, unknown> {
  if (
    typeof input !== 'object' ||
    input === null ||
    Object.prototype.toString.call(input) !== '[object Object]'
  )
    return false;
  const prototype: unknown = Object.getPrototypeOf(input);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

/** A part of the token as JSON; the caller has checked it is canonical base64url. */
function parseJson(part: string): unknown {
  return JSON.parse(strictDecoder.decode(Buffer.from(part, 'base64url')));
}

/**
 * Protected headers of tokens whose signature verified, by their base64url text, when every member is a string
 * (`alg`, `kid`, `typ`) and the text is short: a signer's header is the same on every token it signs, so it is
 * decoded and parsed once. Each token still gets its own copy, and every check is still made on it. Only a header
 * a key vouched for is kept — a refused token leaves nothing behind — and at most {@link MAX_FLAT_HEADERS} of
 * {@link MAX_FLAT_HEADER_CHARS} characters each (emptied when full).
 */
const flatHeaders = new Map<string, Readonly<Record<string, string>>>();
const MAX_FLAT_HEADERS = 256;
const MAX_FLAT_HEADER_CHARS = 512;

/** jose's reading of the protected header: a JSON object, or `JWSInvalid`. */
function readHeader(encoded: string): JWTHeaderParameters {
  const known = flatHeaders.get(encoded);
  if (known !== undefined) return { ...known } as JWTHeaderParameters;
  let parsed: unknown;
  try {
    parsed = parseJson(encoded);
  } catch (cause) {
    throw new errors.JWSInvalid('JWS Protected Header is invalid', { cause });
  }
  if (!isObject(parsed)) throw new errors.JWSInvalid('JWS Protected Header is invalid');
  return parsed as JWTHeaderParameters;
}

/**
 * Keeps a verified token's header for the next token with the same text, when it is one {@link flatHeaders} keeps:
 * read again from its text, as the header handed to `getKey` may have been changed there.
 */
function rememberHeader(encoded: string): void {
  if (encoded.length > MAX_FLAT_HEADER_CHARS || flatHeaders.has(encoded)) return;
  const header = parseJson(encoded) as Record<string, unknown>;
  if (!Object.values(header).every((value) => typeof value === 'string')) return;
  if (flatHeaders.size >= MAX_FLAT_HEADERS) flatHeaders.clear();
  flatHeaders.set(encoded, Object.freeze(header as Record<string, string>));
}

/** jose's `validateAlgorithms`, made before anything is read. */
function allowedAlgorithms(algorithms: unknown): Set<string> | undefined {
  if (
    algorithms !== undefined &&
    (!Array.isArray(algorithms) || algorithms.some((value) => typeof value !== 'string'))
  ) {
    throw new TypeError('"algorithms" option must be an array of strings');
  }
  return algorithms === undefined ? undefined : new Set(algorithms as string[]);
}

/**
 * jose's `validateCrit` for a compact JWS, where the protected header is the whole JOSE header (so "integrity
 * protected" always holds), then `validateB64`: whether the payload is base64url-encoded.
 */
function base64urlPayload(header: Record<string, unknown>, critOption: JwtChecks['crit']): boolean {
  const { crit } = header;
  if (crit === undefined) return true;
  if (
    !Array.isArray(crit) ||
    crit.length === 0 ||
    crit.some((input) => typeof input !== 'string' || input.length === 0)
  ) {
    throw new errors.JWSInvalid(
      '"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present',
    );
  }
  // jose's own extension, b64, is recognised whatever the option says (and always needs protecting).
  const recognized: Record<string, boolean> = Object.assign(Object.create(null), critOption, { b64: true });
  for (const parameter of crit as string[]) {
    if (!(parameter in recognized))
      throw new errors.JOSENotSupported(`Extension Header Parameter "${parameter}" is not recognized`);
    if (!Object.hasOwn(header, parameter) || header[parameter] === undefined)
      throw new errors.JWSInvalid(`Extension Header Parameter "${parameter}" is missing`);
  }
  if (!crit.includes('b64')) return true;
  if (typeof header.b64 !== 'boolean') {
    throw new errors.JWSInvalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
  }
  return header.b64;
}

/**
 * jose's `isCryptoKey`, by the tag every CryptoKey of Node's carries (jose also asks `instanceof CryptoKey`, which
 * can only add an object that hides its tag: such a key is not Node's, and goes to jose with anything else).
 */
function isCryptoKey(key: unknown): key is CryptoKey {
  return (key as { [Symbol.toStringTag]?: unknown } | undefined)?.[Symbol.toStringTag] === 'CryptoKey';
}

/** A CryptoKey's algorithm as WebCrypto describes it (RSA keys have `hash` and `modulusLength`, EC ones a curve). */
interface KeyAlgorithm {
  readonly name: string;
  readonly hash?: { readonly name?: string };
  readonly namedCurve?: string;
  readonly modulusLength?: unknown;
}

const unusable = (name: string, property = 'algorithm.name') =>
  new TypeError(`CryptoKey does not support this operation, its ${property} must be ${name}`);

/** jose's `prepareKey` for a CryptoKey, then `checkCryptoKey` and `checkModulusLength`: TypeErrors, as jose's. */
function checkKey(key: CryptoKey, alg: string, expected: Algorithm): void {
  if (key.type !== 'public' && ['secret', 'public', 'private'].includes(key.type)) {
    throw new TypeError(`CryptoKey instances must be of type "public" for the ${alg} algorithm`);
  }
  const algorithm = key.algorithm as KeyAlgorithm;
  if (algorithm.name !== expected.name) throw unusable(expected.name);
  if (expected.hash !== undefined && algorithm.hash?.name !== expected.hash)
    throw unusable(expected.hash, 'algorithm.hash');
  if (expected.namedCurve !== undefined && algorithm.namedCurve !== expected.namedCurve)
    throw unusable(expected.namedCurve, 'algorithm.namedCurve');
  if (!key.usages.includes('verify'))
    throw new TypeError('CryptoKey does not support this operation, its usages must include verify.');
  if (expected.minRsaBits !== undefined) {
    const { modulusLength } = algorithm;
    if (typeof modulusLength !== 'number' || modulusLength < expected.minRsaBits)
      throw new TypeError(`${alg} requires key modulusLength to be 2048 bits or larger`);
  }
}

/** What `node:crypto`'s `verify()` takes for a key and an algorithm, made once, and what the signature's length must be. */
interface VerifyInput {
  readonly key: { readonly key: KeyObject } & Algorithm['options'];
  readonly digest: string | null;
  /** Every signature's length in bytes: RSA's modulus length; ECDSA's r ‖ s, twice the curve's size. */
  readonly signatureBytes: number | undefined;
}

/** An ECDSA JWS signature's length by curve (RFC 7518 §3.4: r and s, each as long as the curve's order). */
const EC_SIGNATURE_BYTES: Readonly<Record<string, number>> = { 'P-256': 64, 'P-384': 96, 'P-521': 132 };

/**
 * Each CryptoKey's inputs per algorithm, made once it passed {@link checkKey} for that algorithm (a CryptoKey cannot
 * change: its type, algorithm and usages are fixed at its making); `null` when Node cannot make a KeyObject of it
 * (jose then verifies with it).
 */
const verifyInputs = new WeakMap<CryptoKey, Map<string, VerifyInput | null>>();

function verifyInputOf(key: CryptoKey, alg: string, algorithm: Algorithm): VerifyInput | null {
  let byAlg = verifyInputs.get(key);
  const known = byAlg?.get(alg);
  if (known !== undefined) return known;
  checkKey(key, alg, algorithm);
  let input: VerifyInput | null;
  try {
    const { modulusLength } = key.algorithm as KeyAlgorithm;
    input = {
      key: { key: KeyObject.from(key as Parameters<typeof KeyObject.from>[0]), ...algorithm.options },
      digest: algorithm.digest,
      signatureBytes:
        typeof modulusLength === 'number'
          ? Math.ceil(modulusLength / 8)
          : algorithm.namedCurve !== undefined
            ? EC_SIGNATURE_BYTES[algorithm.namedCurve]
            : undefined,
    };
  } catch {
    input = null;
  }
  if (byAlg === undefined) {
    byAlg = new Map();
    verifyInputs.set(key, byAlg);
  }
  byAlg.set(alg, input);
  return input;
}

const checkFailed = 'check_failed';

/** jose's `validateNumericDate`: a time claim, when present, is a number. */
function numericDate(claims: JWTPayload, claim: 'iat' | 'nbf' | 'exp'): number | undefined {
  const value = claims[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') {
    throw new errors.JWTClaimValidationFailed(`"${claim}" claim must be a number`, claims, claim, 'invalid');
  }
  return value;
}

/** jose's `validateClaimsSet` with the clock tolerance at {@link NO_CLOCK} and no `maxTokenAge`. */
function claimsSet(
  header: JWTHeaderParameters,
  payload: Buffer,
  checks: PreparedChecks,
  nowMs: number,
): JWTPayload {
  let claims: unknown;
  try {
    claims = JSON.parse(strictDecoder.decode(payload));
  } catch (cause) {
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object', { cause });
  }
  if (!isObject(claims)) throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object');
  markParsedClaims(claims);
  const set = claims as JWTPayload;
  const { typ, subject } = checks.given;
  if (typ !== undefined && (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(typ)))
    throw new errors.JWTClaimValidationFailed('unexpected "typ" JWT header value', set, 'typ', checkFailed);
  for (const claim of checks.present) {
    if (!Object.hasOwn(set, claim))
      throw new errors.JWTClaimValidationFailed(`missing required "${claim}" claim`, set, claim, 'missing');
  }
  const unexpected = (claim: string) =>
    new errors.JWTClaimValidationFailed(`unexpected "${claim}" claim value`, set, claim, checkFailed);
  if (checks.issuers !== undefined && !checks.issuers.includes(set.iss)) throw unexpected('iss');
  if (subject !== undefined && set.sub !== subject) throw unexpected('sub');
  if (checks.audiences !== undefined && !audiencePresent(set.aud, checks.audiences)) throw unexpected('aud');
  const now = Math.floor(nowMs / 1000);
  if (!Number.isFinite(now)) throw new TypeError('Invalid currentDate option input');
  numericDate(set, 'iat');
  const nbf = numericDate(set, 'nbf');
  if (nbf !== undefined && nbf > now + NO_CLOCK) {
    throw new errors.JWTClaimValidationFailed('"nbf" claim timestamp check failed', set, 'nbf', checkFailed);
  }
  const exp = numericDate(set, 'exp');
  if (exp !== undefined && exp <= now - NO_CLOCK) {
    throw new errors.JWTExpired('"exp" claim timestamp check failed', set, 'exp', checkFailed);
  }
  return set;
}

/** jose's `normalizeTyp`: `JWT` and `application/jwt` alike, case aside. */
function normalizeTyp(value: string): string {
  const normalized = value.toLowerCase();
  return value.includes('/') ? normalized : `application/${normalized}`;
}

/** jose's `checkAudiencePresence`. */
function audiencePresent(aud: unknown, expected: readonly string[]): boolean {
  if (typeof aud === 'string') return expected.includes(aud);
  return Array.isArray(aud) && expected.some((value) => aud.includes(value));
}

/**
 * {@link JwtChecks} but `now`, made ready once for any number of tokens ({@link prepareChecks}): the allow-list as a
 * set, the claims that must be present in jose's order, the accepted issuers and audiences as lists.
 */
export interface PreparedChecks {
  /** The checks as given (a copy): what jose's own `jwtVerify` is handed when it verifies instead. */
  readonly given: Readonly<Omit<JwtChecks, 'now'>>;
  readonly allowed: ReadonlySet<string> | undefined;
  /** Claims that must be present: iss, sub, aud (each when its check is asked for), then the required claims from the last. */
  readonly present: readonly string[];
  readonly issuers: readonly unknown[] | undefined;
  readonly audiences: readonly string[] | undefined;
}

/**
 * Makes {@link JwtChecks} (but `now`) ready for {@link verifySigned}.
 *
 * @throws TypeError `"algorithms" option must be an array of strings` (jose's), as jose throws it before reading a token.
 */
export function prepareChecks(checks: Omit<JwtChecks, 'now'>): PreparedChecks {
  const given = { ...checks };
  const allowed = allowedAlgorithms(given.algorithms);
  const { requiredClaims = [], issuer, subject, audience } = given;
  const presence = [...requiredClaims];
  if (audience !== undefined) presence.push('aud');
  if (subject !== undefined) presence.push('sub');
  if (issuer !== undefined) presence.push('iss');
  return {
    given,
    allowed,
    // jose's order: iss, sub, aud, then the required claims from the last.
    present: [...new Set(presence.reverse())],
    issuers: issuer === undefined ? undefined : Array.isArray(issuer) ? [...issuer] : [issuer],
    audiences: audience === undefined ? undefined : typeof audience === 'string' ? [audience] : [...audience],
  };
}

/**
 * Verifies a compact JWT as jose's `jwtVerify(token, key, joseOptions(checks))` does — the same checks, in the same
 * order, with the same errors — but checks the signature synchronously with `node:crypto`.
 *
 * `token` must already be a strict compact JWS ({@link compactJwsProblem}: three non-empty parts of canonical
 * base64url), as verifyJwt makes sure before calling: this function does not check it again, and its reading of
 * anything else could differ from jose's (which decodes with `atob`).
 *
 * @param key a key, or a key set's `getKey` (called once, with the protected header and the token's parts, as jose
 * calls it).
 * @throws jose's errors: `JWSInvalid` (`ERR_JWS_INVALID`: a header that is not a JSON object, a bad `crit` or `b64`,
 * no `alg`), `JOSENotSupported` (an unrecognised `crit` extension, an algorithm jose does not know),
 * `JOSEAlgNotAllowed` (`ERR_JOSE_ALG_NOT_ALLOWED`), whatever `getKey` throws (`ERR_JWKS_NO_MATCHING_KEY`,
 * `ERR_JWKS_MULTIPLE_MATCHING_KEYS`, ...), a TypeError for a key the algorithm cannot use (not public, another
 * type, curve or hash, an RSA modulus under 2048 bits), `JWSSignatureVerificationFailed`
 * (`ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, also for a signature of the wrong length), `JWTInvalid`
 * (`ERR_JWT_INVALID`: an unencoded payload, claims that are not a JSON object), `JWTClaimValidationFailed`
 * (`ERR_JWT_CLAIM_VALIDATION_FAILED`, with jose's `claim` and `reason`: `typ`, a required claim, `iss`, `sub`,
 * `aud`, a time claim that is not a number), and TypeErrors for options jose refuses.
 */
export async function verifySignedJwt(
  token: string,
  key: JWTVerifyGetKey | VerificationKey,
  checks: JwtChecks,
): Promise<VerifiedJwt> {
  await joseErrorsLoading();
  const { now, ...rest } = checks;
  return verifySigned(token, key, prepareChecks(rest), now);
}

/**
 * {@link verifySignedJwt} with its checks made ready ({@link prepareChecks}) and jose's errors loaded
 * ({@link joseErrorsLoading}): the answer at once when `key` is a key, or a key set's `getKey` that answers at once,
 * a promise otherwise. Throws (rather than rejects) what it finds before it has to wait.
 *
 * @param now the current time, ms since the epoch ({@link JwtChecks}).
 * @throws the errors of {@link verifySignedJwt}.
 */
export function verifySigned(
  token: string,
  key: JWTVerifyGetKey | VerificationKey,
  checks: PreparedChecks,
  now: number,
): MaybePromise<VerifiedJwt> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new errors.JWSInvalid('Invalid Compact JWS');
  const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = parts;
  const header = readHeader(encodedHeader);
  // jose's check that protected and unprotected header names are disjoint holds: a compact JWS has only the former.
  const b64 = base64urlPayload(header, checks.given.crit);
  const { alg } = header;
  if (typeof alg !== 'string' || alg === '')
    throw new errors.JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (checks.allowed !== undefined && !checks.allowed.has(alg))
    throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  const verifyWith = (resolved: VerificationKey): MaybePromise<VerifiedJwt> => {
    const algorithm = ALGORITHMS.get(alg);
    const input =
      algorithm !== undefined && isCryptoKey(resolved) ? verifyInputOf(resolved, alg, algorithm) : null;
    if (input === null) return joseVerified(token, resolved, { ...checks.given, now });
    // An RSA signature is exactly as long as the modulus (RFC 8017 §8.1.2, §8.2.2: "If the length of the signature S
    // is not k octets, output 'invalid signature'"), as Go's crypto/rsa, which Flipt verifies with, checks. OpenSSL's
    // PSS path takes one shorter (its leading zero bytes dropped): a second spelling of the same token. An ECDSA one
    // of the wrong length WebCrypto refuses as jose sees it, with no cause, where a `Verify` object would throw.
    const signature = Buffer.from(encodedSignature, 'base64url');
    if (input.signatureBytes !== undefined && signature.length !== input.signatureBytes) {
      throw new errors.JWSSignatureVerificationFailed();
    }
    // The signing input is base64url text (assertCompactJws came first), so its latin1 bytes are its bytes.
    const signingInput = token.slice(0, encodedHeader.length + 1 + encodedPayload.length);
    let verified = false;
    try {
      // A `Verify` object, not the one-shot `verify()`, where a digest is named: in a running server, one-shot's
      // per-call crypto job cost ~5 µs more per first-seen token (measured head to head, RS256 and ES256). EdDSA
      // hashes inside its scheme, which only the one-shot form takes.
      verified =
        input.digest === null
          ? verify(null, Buffer.from(signingInput, 'latin1'), input.key, signature)
          : createVerify(input.digest).update(signingInput, 'latin1').verify(input.key, signature);
    } catch (cause) {
      throw new errors.JWSSignatureVerificationFailed(undefined, { cause });
    }
    if (!verified) throw new errors.JWSSignatureVerificationFailed();
    if (!b64) throw new errors.JWTInvalid('JWTs MUST NOT use unencoded payload');
    rememberHeader(encodedHeader);
    return {
      payload: claimsSet(header, Buffer.from(encodedPayload, 'base64url'), checks, now),
      protectedHeader: header,
    };
  };
  if (typeof key !== 'function') return verifyWith(key);
  const jws: FlattenedJWSInput = {
    payload: encodedPayload,
    protected: encodedHeader,
    signature: encodedSignature,
  };
  return settle(key(header, jws), verifyWith, (error) => {
    throw error;
  });
}

/** jose's own `jwtVerify`, for a key or an algorithm this file leaves to it. */
async function joseVerified(token: string, key: VerificationKey, checks: JwtChecks): Promise<VerifiedJwt> {
  const { jwtVerify } = await import('jose/jwt/verify');
  const { payload, protectedHeader } = await jwtVerify(token, key, joseOptions(checks));
  return { payload, protectedHeader };
}
