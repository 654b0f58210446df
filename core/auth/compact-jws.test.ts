import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { refusedSpellings } from '../test-support/jws-spellings.ts';
import { startTokenIssuer } from '../test-support/token-issuer.ts';
import { compactJwsProblem } from './compact-jws.ts';
import { remoteKeySet, verifyJwt } from './jwks.ts';
import { TIME_CLAIM_RULES } from './time-claims.ts';

describe('compact JWS, read strictly (RFC 7515 §2, §7.1)', () => {
  it('takes three non-empty parts of unpadded, canonical base64url, whatever their lengths', () => {
    for (const token of ['eyJh.e30.c2ln', 'eyJhbA.e30x.AA', 'eyJhbGc.eyJ4IjoxfQ.AAA', 'A-_w.QUJD.Zm9vYmE']) {
      expect(compactJwsProblem(token), token).toBeUndefined();
    }
  });

  it('takes exactly the tokens whose parts decode and encode back to themselves (a second spelling of the rule)', () => {
    const canonical = (part: string) =>
      part !== '' && Buffer.from(part, 'base64url').toString('base64url') === part;
    const reference = (token: string) => {
      const parts = token.split('.');
      return parts.length === 3 && parts.every(canonical);
    };
    // Mostly the alphabet and dots, so that most tokens come near to being compact JWSs; some of what it is not.
    const character = fc.constantFrom(...'ABCDQRSTYZadghowz0189-_...=+/ \n\u00e9');
    fc.assert(
      fc.property(fc.string({ unit: character, maxLength: 24 }), (token) => {
        expect(compactJwsProblem(token) === undefined, token).toBe(reference(token));
      }),
      { numRuns: 20_000, seed: 21 },
    );
  });

  it('says what is wrong, in which part, where, and what was found there', () => {
    const never = 'which unpadded base64url never has';
    const notCanonical = 'whose unused bits are not zero (not canonical base64url)';
    const cases: Array<[string, string]> = [
      ['eyJh.e30.c2lnbmF0dXJl==', `the signature part has "=" at character 13, ${never}`],
      ['eyJh.e3 0.c2ln', `the payload part has U+0020 at character 3, ${never}`],
      ['eyJh.e30.c2\r\nln', `the signature part has U+000D at character 3, ${never}`],
      ['eyJh+.e30.c2ln', `the header part has "+" at character 5, ${never}`],
      ['eyJh.e30.c2l\u00e9', `the signature part has U+00E9 at character 4, ${never}`],
      ['eyJhb.e30.c2ln', 'the header part is 5 characters long, which no base64url encoding is'],
      ['eyJh.e30.AB', `the signature part ends in "B", ${notCanonical}`],
      ['eyJh.e30.AAB', `the signature part ends in "B", ${notCanonical}`],
      ['eyJh..c2ln', 'the payload part is empty'],
      ['eyJh.e30', 'a compact JWS has 3 parts separated by ".", this token has 2'],
      ['eyJh.e30.c2ln.c2ln', 'a compact JWS has 3 parts separated by ".", this token has 4'],
    ];
    for (const [token, message] of cases) expect(compactJwsProblem(token), token).toBe(message);
  });

  it('verifyJwt refuses every respelling of a token it verifies, with ERR_JWS_INVALID, before any key is fetched', async () => {
    const idp = await startTokenIssuer();
    onTestFinished(() => idp.close());
    const keys = remoteKeySet(idp.jwksUrl, fetch);
    const verify = (token: string) =>
      verifyJwt(token, keys, { algorithms: ['RS256'], timeRules: TIME_CLAIM_RULES.jwt }).then(
        () => 'verified',
        (error: { code?: string; message: string }) => `${error.code}: ${error.message}`,
      );
    const token = await idp.sign({ sub: 'a' });
    expect(await verify(token)).toBe('verified');
    const fetches = idp.jwksFetches;
    const spellings = refusedSpellings(token);
    // The fuzzer's input is among them: an RS256 signature is 342 characters, so "==" is what atob takes.
    expect(spellings.map(([what]) => what)).toContain(
      'signature: padded to a multiple of 4 (what atob takes)',
    );
    // Line breaks cannot travel in a header, but can in a JSON body (an exchange, a logout token).
    const [header, payload, signature = ''] = token.split('.');
    spellings.push([
      'signature: a line break inserted',
      `${header}.${payload}.${signature.slice(0, 9)}\n${signature.slice(9)}`,
    ]);
    for (const [what, respelled] of spellings) {
      expect(await verify(respelled), what).toMatch(/^ERR_JWS_INVALID: /);
    }
    expect(idp.jwksFetches).toBe(fetches);
  });
});
