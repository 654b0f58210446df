/**
 * Claims `JSON.parse` made from a verified token's payload, told apart from any other object by a private field
 * stamped onto them when parsed (core/auth/jws-verify.ts): what {@link jwtAuthentication} may make metadata of
 * later, knowing it holds no getter, Proxy or other value that could throw then. No copy carries the stamp.
 */

/** A constructor that answers the object it is given, so that a subclass's private field lands on that object. */
export class Given {
  constructor(target: object) {
    // biome-ignore lint/correctness/noConstructorReturn: returning the target is how its private field is added
    return target;
  }
}

class ParsedClaims extends Given {
  readonly #parsed = true;

  static stamp(target: object): void {
    new ParsedClaims(target);
  }

  static stamped(value: unknown): boolean {
    return typeof value === 'object' && value !== null && #parsed in value;
  }
}

/** Marks `claims` as JSON.parse's own output (call it on nothing else). */
export function markParsedClaims(claims: object): void {
  ParsedClaims.stamp(claims);
}

/** Whether `value` was marked by {@link markParsedClaims}. */
export function isParsedClaims(value: unknown): boolean {
  return ParsedClaims.stamped(value);
}
