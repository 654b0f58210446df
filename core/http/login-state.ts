import { randomBytes, timingSafeEqual } from 'node:crypto';
import { credentialBytes } from '../auth/credential-bytes.ts';
import { goJson } from '../auth/json.ts';
import { paddedBase64Url } from '../auth/token.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';

/** How long a client's own `state` may be: it travels inside a cookie, which browsers cap at about 4 KiB. */
export const MAX_ORIGINAL_STATE = 1024;

/**
 * A login's state as Flipt's HTTP middleware makes it: padded base64url of
 * `{"security_token": <64 random bytes, base64url>, "original_state": <the client's state>}`.
 */
export function newLoginState(originalState: string): string {
  if (originalState.length > MAX_ORIGINAL_STATE) {
    throw new PortcullisError(
      ErrorCodes.INVALID_ARGUMENT,
      `state must be at most ${MAX_ORIGINAL_STATE} characters`,
    );
  }
  const securityToken = paddedBase64Url(randomBytes(64));
  // Fields in Flipt's order; goJson would sort them, so only the values go through it.
  const json = `{"security_token":${goJson(securityToken)},"original_state":${goJson(originalState)}}`;
  return paddedBase64Url(Buffer.from(json));
}

/**
 * Whether a callback's state is non-empty and equal to the cookie's, in time that does not depend on where they
 * differ. Compared as bytes, as Go compares them: the query's state is decoded text (its UTF-8 bytes), the cookie the
 * bytes the browser sent ({@link credentialBytes}). The states we issue are ASCII, so only a forged one differs.
 */
export function sameState(state: string | undefined, cookie: string | undefined): boolean {
  if (state === undefined || state === '' || cookie === undefined) return false;
  const a = Buffer.from(state, 'utf8');
  const b = credentialBytes(cookie);
  return a.length === b.length && timingSafeEqual(a, b);
}
