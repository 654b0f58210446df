/**
 * What Flipt makes of a verified JWT's claims (reference §4.4): the metadata of the authentication it stands for
 * (its time rules are `TIME_CLAIM_RULES.jwt` in time-claims.ts). Shared by the jwt and kubernetes methods, which both answer `Authorization: JWT`.
 */
import type { Authentication } from '../plugins/contracts.ts';
import { resolvePointer } from './claims.ts';
import { goJson } from './json.ts';
import { Given, isParsedClaims } from './parsed-claims.ts';

/** The attributes `claims_mapping` may point at, and where Flipt looks for them by default. */
export const DEFAULT_JWT_CLAIMS_MAPPING = {
  email: '/user/email',
  sub: '/user/sub',
  picture: '/user/image',
  name: '/user/name',
  role: '/user/role',
} as const;

export type JwtAttribute = keyof typeof DEFAULT_JWT_CLAIMS_MAPPING;

/** Each attribute and its metadata key, in Flipt's order (made once: metadata is made for every first-seen token). */
const ATTRIBUTE_KEYS = (Object.keys(DEFAULT_JWT_CLAIMS_MAPPING) as JwtAttribute[]).map(
  (attribute) => [attribute, `io.flipt.auth.jwt.${attribute}`] as const,
);

const RESERVED_PREFIX = 'io.flipt.auth';
const CLAIMS_KEY = 'io.flipt.auth.claims';

/**
 * A value as Go's `fmt.Sprintf("%v")` writes what `encoding/json` decoded: strings as they are, numbers as float64
 * (`1.7e+09`, `42`, `0.5`), `true`, `[a b]`, `map[k:v]` with sorted keys, `<nil>`.
 */
export function goValueText(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return goFloat(value);
  if (Array.isArray(value)) return `[${value.map(goValueText).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((key) => `${key}:${goValueText((value as Record<string, unknown>)[key])}`);
    return `map[${entries.join(' ')}]`;
  }
  return String(value);
}

/** `strconv.FormatFloat(f, 'g', -1, 64)`: the shortest digits, in exponent form below 1e-4 and from 1e6 on. */
function goFloat(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa = '', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(value);
}

/**
 * The metadata of a JWT authentication, in Flipt's order: every `io.flipt.auth*` claim as Go prints it (how a role
 * reaches authorization), a string `iss` as `io.flipt.auth.jwt.issuer`, each mapped attribute as
 * `io.flipt.auth.jwt.<attribute>` (`claims_mapping` over the defaults; an empty pointer turns one off, one that
 * leads nowhere is skipped), and last every claim as JSON in `io.flipt.auth.claims`, so no claim can stand in for it.
 */
export function jwtMetadata(
  claims: Readonly<Record<string, unknown>>,
  mapping: Partial<Record<JwtAttribute, string>> = {},
): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const key of Object.keys(claims)) {
    if (key.startsWith(RESERVED_PREFIX)) metadata[key] = goValueText(claims[key]);
  }
  if (typeof claims.iss === 'string') metadata['io.flipt.auth.jwt.issuer'] = claims.iss;
  for (const [attribute, key] of ATTRIBUTE_KEYS) {
    const pointer = mapping[attribute] ?? DEFAULT_JWT_CLAIMS_MAPPING[attribute];
    if (pointer === '') continue;
    const value = resolvePointer(claims, pointer);
    if (value !== undefined) metadata[key] = goValueText(value);
  }
  metadata[CLAIMS_KEY] = goJson(claims);
  return metadata;
}

/**
 * The authentication of a JWT verified by a method writing `METHOD_JWT` (the jwt method; kubernetes for its cluster's
 * tokens): `{ id: '', method: 'METHOD_JWT', metadata }`, with {@link jwtMetadata}'s metadata made on its first read
 * and kept (frozen) from then on. Most requests never read it — a route that only needs its caller admitted, the
 * later uses of a remembered token — and making it was a tenth of a first-seen token's cost in a server.
 *
 * The answer is a frozen plain object whose three fields are own enumerable properties in that order: spreading it,
 * `JSON.stringify`, `structuredClone` and `assert.deepStrictEqual` see what they see of `{ id, method, metadata }`
 * (`Object.getOwnPropertyDescriptor` and `util.inspect` tell that `metadata` is a getter: `console.log` shows
 * `[Getter]` for it, as it does for any accessor). `claims` (as `JSON.parse` made them: JSON values only) are kept
 * until the metadata is made and must not change meanwhile; `mapping` is `claims_mapping` as jwtMetadata takes it.
 *
 * Only claims as the kit's verification parsed them (`verifyJwt`, `jwtVerification`: plain JSON, no getter or
 * Proxy), nested no deeper than {@link LAZY_NESTING_LEVELS}, are made lazily: any other claims have their metadata
 * made at once, where it has always been made, so that whatever making it throws (a `RangeError` for nesting deep
 * enough to exhaust the stack, a throwing getter) is thrown here and the token is refused by its method, never
 * admitted with metadata that cannot be read. `mapping` is read now unless it is frozen. The metadata must be read
 * from the authentication itself: read through a Proxy of it, the getter throws a `TypeError` saying so. Since kit
 * 1.5.0.
 */
export function jwtAuthentication(
  claims: Readonly<Record<string, unknown>>,
  mapping: Partial<Record<JwtAttribute, string>> = NO_MAPPING,
): Authentication {
  const state: LazyMetadata = { claims, mapping: settledMapping(mapping), metadata: undefined };
  if (!isParsedClaims(claims) || !plainJsonWithin(claims, LAZY_NESTING_LEVELS))
    state.metadata = Object.freeze(jwtMetadata(claims, state.mapping));
  const authentication = { id: '', method: 'METHOD_JWT' };
  Object.defineProperty(authentication, 'metadata', METADATA_PROPERTY);
  Lazy.stamp(authentication, state);
  return Object.freeze(authentication) as Authentication;
}

const NO_MAPPING: Partial<Record<JwtAttribute, string>> = Object.freeze({});
/** Frozen mappings of plain data properties, read as they are (checked once each). */
const settledMappings = new WeakSet<object>();

/**
 * `mapping` as it will be read when the metadata is made: itself when it is frozen, of data properties (a method's
 * configuration, frozen once), else a copy of its pointers read now, so that nothing can change or throw later.
 */
function settledMapping(
  mapping: Partial<Record<JwtAttribute, string>>,
): Partial<Record<JwtAttribute, string>> {
  if (settledMappings.has(mapping)) return mapping;
  const prototype: unknown = Object.getPrototypeOf(mapping);
  if (
    Object.isFrozen(mapping) &&
    (prototype === Object.prototype || prototype === null) &&
    Object.values(Object.getOwnPropertyDescriptors(mapping)).every((property) => 'value' in property)
  ) {
    settledMappings.add(mapping);
    return mapping;
  }
  const copy: Partial<Record<JwtAttribute, string>> = {};
  for (const [attribute] of ATTRIBUTE_KEYS) {
    const pointer = mapping[attribute];
    if (pointer !== undefined) copy[attribute] = pointer;
  }
  return copy;
}

/**
 * How deep claims may nest (objects and arrays, the claims themselves one level) for their metadata to be made when
 * first read: however deep the stack of the code that reads it, making it then needs at most a few frames per
 * level. Real claims nest two or three levels.
 */
export const LAZY_NESTING_LEVELS = 32;

/**
 * Whether `value` was made by {@link jwtAuthentication}, and so is an authentication by construction: frozen, with a
 * string `id` and `method` and metadata of strings. Told by a private field no copy carries, not by shape.
 */
export function isJwtAuthentication(value: unknown): boolean {
  return Lazy.stamped(value);
}

interface LazyMetadata {
  claims: Readonly<Record<string, unknown>> | undefined;
  readonly mapping: Partial<Record<JwtAttribute, string>>;
  metadata: Readonly<Record<string, string>> | undefined;
}

/**
 * Keeps an authentication's lazy metadata in a private field of the authentication itself: invisible to spread,
 * JSON, `structuredClone`, `assert.deepStrictEqual` and `util.inspect`, carried by no copy, and leaving the object
 * a plain one (its prototype `Object.prototype`). Cheaper than a non-enumerable property, and no WeakMap entry.
 */
class Lazy extends Given {
  readonly #state: LazyMetadata;

  private constructor(target: object, state: LazyMetadata) {
    super(target);
    this.#state = state;
  }

  static stamp(target: object, state: LazyMetadata): void {
    new Lazy(target, state);
  }

  static stamped(value: unknown): boolean {
    return typeof value === 'object' && value !== null && #state in value;
  }

  static metadata(authentication: object): Readonly<Record<string, string>> {
    let holder: object | null = authentication;
    // An object made with the authentication as its prototype reads the metadata of the authentication.
    while (holder !== null && !(#state in holder)) holder = Object.getPrototypeOf(holder) as object | null;
    if (holder === null) {
      throw new TypeError(
        'the metadata of a JWT authentication (jwtAuthentication) is read from the authentication itself, not through a Proxy of it',
      );
    }
    const state = (holder as Lazy).#state;
    if (state.metadata === undefined) {
      state.metadata = Object.freeze(jwtMetadata(state.claims ?? {}, state.mapping));
      state.claims = undefined;
    }
    return state.metadata;
  }
}

// One descriptor (one getter) for every authentication: they all keep one hidden class.
const METADATA_PROPERTY: PropertyDescriptor = {
  enumerable: true,
  get(this: object) {
    return Lazy.metadata(this);
  },
};

/**
 * Whether `value` is JSON as `JSON.parse` makes it (strings, numbers, booleans, null, arrays, plain objects) nesting
 * no deeper than `levels`: what jwtMetadata makes metadata of without throwing, in a few frames a level.
 */
function plainJsonWithin(value: unknown, levels: number): boolean {
  if (value === null) return true;
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return true;
  if (type !== 'object' || levels === 0) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!plainJsonWithin(item, levels - 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key of Object.keys(value as object)) {
    if (!plainJsonWithin((value as Record<string, unknown>)[key], levels - 1)) return false;
  }
  return true;
}

/**
 * Who a JWT authentication is, for the identity headers: its mapped `sub` (`io.flipt.auth.jwt.sub`), else the
 * `sub` claim; its mapped email. Only the `io.flipt.auth.jwt.*` keys and the claims are read, since a token may
 * carry any `io.flipt.auth.*` claim (another method's key among them).
 */
export function jwtIdentity(metadata: Readonly<Record<string, string>>): {
  readonly user?: string;
  readonly email?: string;
} {
  let user = metadata['io.flipt.auth.jwt.sub'];
  if (user === undefined) {
    try {
      const sub = (JSON.parse(metadata[CLAIMS_KEY] ?? '{}') as { sub?: unknown }).sub;
      if (typeof sub === 'string') user = sub;
    } catch {
      // No claims to read a subject from: the identity falls back to the id.
    }
  }
  const email = metadata['io.flipt.auth.jwt.email'];
  return { ...(user !== undefined && { user }), ...(email !== undefined && { email }) };
}
