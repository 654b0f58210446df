/**
 * The protected headers jws-verify.ts keeps (`flatHeaders`, so that a signer's header is parsed once) are only those
 * of tokens whose signature verified, and short ones: `verifyJwt` and `jwtVerification` set no bound on a token's
 * length (the methods do), and a refused token must leave nothing behind (a review found ~300 MiB kept by 256
 * refused tokens with 512 KiB headers, when every header was kept on reading).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { staticKeySet, verifyJwt } from './jwks.ts';
import { TIME_CLAIM_RULES } from './time-claims.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const b64 = (text: string) => Buffer.from(text).toString('base64url');

describe('verifyJwt: refused tokens', () => {
  it('leave no memory behind (64 refused tokens with 512 KiB headers)', async () => {
    let asked = 0;
    const keys = staticKeySet(() => {
      asked++;
      throw new Error('never asked');
    });
    const options = { algorithms: ['RS256'], timeRules: TIME_CLAIM_RULES.jwt };
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 64; i++) {
      const padding = `${i}-${'x'.repeat(512 * 1024)}`;
      const token = `${b64(JSON.stringify({ alg: 'none', pad: padding }))}.${b64('{}')}.c2ln`;
      await expect(verifyJwt(token, keys, options)).rejects.toHaveProperty(
        'code',
        'ERR_JOSE_ALG_NOT_ALLOWED',
      );
    }
    gc();
    const retainedMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20;
    expect(asked).toBe(0);
    expect(retainedMiB).toBeLessThan(16);
  }, 60_000);
});
