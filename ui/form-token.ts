import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The anti-CSRF token of the UI's forms (OWASP's HMAC-based token pattern, bound to the session): HMAC-SHA256 of a
 * fixed label keyed with the caller's credential (the `flipt_client_token` cookie, or the `Authorization` header),
 * base64url. A cross-site page can make the browser send the cookie but cannot read it, so it cannot compute the
 * token; every instance behind a load balancer computes the same one with no shared key; and a token shown in a page
 * reveals nothing of the credential (HMAC is one-way).
 */
export function formToken(credential: string): string {
  return createHmac('sha256', Buffer.from(credential, 'latin1'))
    .update('portcullis web UI form v1')
    .digest('base64url');
}

/** Whether `given` is the form token of `credential`, compared in constant time. */
export function formTokenMatches(credential: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(formToken(credential));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
