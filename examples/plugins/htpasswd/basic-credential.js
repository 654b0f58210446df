/**
 * The credential of HTTP Basic authentication (RFC 7617): `Authorization: Basic base64(user-id ":" password)`.
 */

import { Buffer } from 'node:buffer';

/** Base64 (RFC 4648 §4), padded or not: what clients send after `Basic `. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * @typedef {{ readonly ok: true, readonly user: string, readonly password: string }} BasicCredential
 * @typedef {{ readonly ok: false, readonly reason: string, readonly message: string }} MalformedCredential
 */

/**
 * Reads the part of a Basic `Authorization` header after the scheme. The user-pass is read as UTF-8 (the
 * `charset="UTF-8"` of RFC 7617 §2.1), strictly: bytes that are not UTF-8 are refused rather than replaced, so that
 * two different passwords never read as the same text. The user-id ends at the first colon (§2: a user-id cannot
 * hold one, a password can) and must not be empty; the password may be.
 *
 * A malformed credential is described by a snake_case `reason` and a message that repeats none of it.
 *
 * @param {string} value everything after `Basic `
 * @returns {BasicCredential | MalformedCredential}
 */
export function parseBasicCredential(value) {
  if (value === '' || !BASE64.test(value)) {
    return { ok: false, reason: 'credential_not_base64', message: 'the Basic credential is not base64' };
  }
  let text;
  try {
    text = utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    return { ok: false, reason: 'credential_not_utf8', message: 'the Basic credential is not UTF-8 text' };
  }
  const colon = text.indexOf(':');
  if (colon === -1) {
    return {
      ok: false,
      reason: 'credential_without_colon',
      message: 'the Basic credential has no colon between user and password',
    };
  }
  if (colon === 0) {
    return { ok: false, reason: 'empty_user', message: 'the Basic credential names no user' };
  }
  return { ok: true, user: text.slice(0, colon), password: text.slice(colon + 1) };
}
