import { describe, expect, it } from 'vitest';
import { generateClientToken, hashClientToken } from './token.ts';

describe('client tokens', () => {
  it('are 32 random bytes in padded base64url, like Flipt', () => {
    const tokens = new Set(Array.from({ length: 200 }, generateClientToken));
    expect(tokens.size).toBe(200);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    }
  });

  it("hash exactly as Flipt's HashClientToken (padded base64url SHA-256), so a shared store works", () => {
    // Computed independently: base64.urlsafe_b64encode(hashlib.sha256(b"s3cr3t").digest())
    expect(hashClientToken('s3cr3t')).toBe('TnOMpVY8Bs_QAYKZkz1Y2x3Yv5f2lz3Jm_bNxktVUL0=');
    expect(hashClientToken('')).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=');
  });
});
