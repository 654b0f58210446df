import { hash, randomBytes } from 'node:crypto';
import type { credentialBytes } from './credential-bytes.ts';

/** Base64url with `=` padding: Go's `base64.URLEncoding`, which Flipt uses for tokens, hashes and states. */
export function paddedBase64Url(bytes: Uint8Array): string {
  return padBase64(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url'));
}

function padBase64(encoded: string): string {
  return encoded.padEnd(Math.ceil(encoded.length / 4) * 4, '=');
}

/**
 * A new client token: 32 random bytes in padded base64url (44 characters), the same form as Flipt's, so tokens
 * look alike whichever server issued them.
 */
export function generateClientToken(): string {
  return paddedBase64Url(randomBytes(32));
}

/**
 * What is stored instead of a client token: SHA-256 in padded base64url, exactly Flipt's `HashClientToken`, so that
 * Flipt and portcullis sharing one Redis find each other's tokens. Go hashes a token's bytes: a string here is text (a
 * token generated or configured) and its UTF-8 bytes are hashed; a credential from a request is bytes, hashed as
 * `hashClientToken(credentialBytes(value))` ({@link credentialBytes}), never as the string Node made of them.
 */
export function hashClientToken(token: string | Uint8Array): string {
  // The one-shot hash: on every authenticated request, so the cheapest form (no Hash object, no Buffer copy). Its 32
  // bytes are 43 base64url characters, always one `=` short of a multiple of 4.
  return `${hash('sha256', token, 'base64url')}=`;
}
