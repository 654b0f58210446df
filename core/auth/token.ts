import { createHash, randomBytes } from 'node:crypto';

/**
 * A new client token: 32 random bytes in padded base64url (44 characters), the same form as Flipt's, so tokens
 * look alike whichever server issued them.
 */
export function generateClientToken(): string {
  return randomBytes(32).toString('base64url').padEnd(44, '=');
}

/**
 * What is stored instead of a client token: SHA-256 in padded base64url, exactly Flipt's `HashClientToken`, so that
 * Flipt and portcullis sharing one Redis find each other's tokens.
 */
export function hashClientToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url').padEnd(44, '=');
}
