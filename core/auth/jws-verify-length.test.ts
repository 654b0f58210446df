import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compactJwsProblem } from './compact-jws.ts';
import { verifySignedJwt } from './jws-verify.ts';

/**
 * Found in review: an RSA-PSS signature one byte short (its leading zero byte dropped: 255 bytes for a 2048-bit key)
 * verified, because OpenSSL's PSS path takes any input no longer than the modulus; Go's crypto/rsa (what Flipt
 * verifies with, through go-jose) refuses it (VerifyPSS: len(sig) == pub.Size()), as RFC 8017 §8.1.2 says. A second
 * spelling of the same token, as compact-jws.ts refuses for base64url. jose's WebCrypto path takes it too.
 */
const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');

describe('RSA signature length', () => {
  it('refuses a PS256 signature shorter than the modulus (leading zero byte dropped), as Go does', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = await crypto.subtle.importKey(
      'jwk',
      publicKey.export({ format: 'jwk' }),
      { name: 'RSA-PSS', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    let token: string | undefined;
    for (let i = 0; token === undefined && i < 20_000; i++) {
      const input = `${b64(JSON.stringify({ alg: 'PS256' }))}.${b64(JSON.stringify({ sub: 'x', i }))}`;
      const signature = sign('sha256', Buffer.from(input), {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
      if (signature[0] === 0) token = `${input}.${b64(signature.subarray(1))}`;
    }
    if (token === undefined) throw new Error('no signature with a leading zero byte');
    expect(compactJwsProblem(token)).toBeUndefined();
    const outcome = await verifySignedJwt(token, key, { now: Date.now(), algorithms: ['PS256'] }).then(
      () => 'verified',
      (error: { code?: string }) => error.code,
    );
    expect(outcome).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });
});
