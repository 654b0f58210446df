import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.ts';
import type { Authentication, KnownClientToken } from '../plugins/contracts.ts';
import { frozenAuthentication } from '../plugins/instance.ts';
import { hashCredential } from './credential-bytes.ts';
import { BY_VALUE_LIMIT, KnownClientTokens } from './known-client-tokens.ts';
import { hashClientToken } from './token.ts';

const auth = (id: string): Authentication =>
  frozenAuthentication({ id, method: 'METHOD_TOKEN', metadata: {} });
const known = (...credentials: string[]): KnownClientToken[] =>
  credentials.map((credential, index) => ({ credential, authentication: auth(`t${index}`) }));
const of = (tokens: KnownClientToken[]) => new KnownClientTokens([{ method: 'token', tokens }]);

/** What the pipeline answers for a request's token: by value, else by the hash it computes. */
const answer = (matcher: KnownClientTokens, clientToken: string) =>
  matcher.match(clientToken) ?? matcher.find(hashCredential(clientToken));

describe('KnownClientTokens', () => {
  it('matches a token by value, and nothing longer, shorter or different', () => {
    const matcher = of(known('bench-static-token', 'other'));
    expect(matcher.match('bench-static-token')?.id).toBe('t0');
    expect(matcher.match('other')?.id).toBe('t1');
    for (const miss of [
      'bench-static-toke',
      'bench-static-tokenX',
      'Bench-static-token',
      '',
      'othe',
      'x'.repeat(4096),
    ]) {
      expect(matcher.match(miss)).toBeUndefined();
    }
    // Kept by value, none by hash: the pipeline's hash lookup finds nothing here.
    expect(matcher.find(hashClientToken('other'))).toBeUndefined();
  });

  it('never takes an earlier request’s bytes for a shorter one’s', () => {
    const matcher = of(known('abcd'));
    // Writes 'abcd' (cut off) into the shared buffer; then 'abc' leaves the earlier 'd' in place.
    expect(matcher.match('abcdXYZ')).toBeUndefined();
    expect(matcher.match('abc')).toBeUndefined();
    expect(matcher.match('abcd')?.id).toBe('t0');
  });

  it('compares bytes as Flipt does: a configured credential’s UTF-8 with the bytes the client sent', () => {
    const matcher = of(known('pässwörd', 'ключ'));
    // Off the wire, Node gives the UTF-8 bytes as Latin-1 characters.
    expect(matcher.match(Buffer.from('pässwörd').toString('latin1'))?.id).toBe('t0');
    expect(matcher.match(Buffer.from('ключ').toString('latin1'))?.id).toBe('t1');
    // Text holding a character above U+00FF is taken as text (gRPC metadata, inject): its UTF-8 bytes.
    expect(matcher.match('ключ')?.id).toBe('t1');
    // Characters up to U+00FF are bytes, so the text 'pässwörd' is 8 bytes, not the credential's 10.
    expect(matcher.match('pässwörd')).toBeUndefined();
  });

  it('answers what the lookup by hash answers, for any tokens and any request, by value or past the limit', () => {
    // Latin-1 and wider characters, lone surrogates included, in both the tokens and the requests.
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom('a', 'b', '\u00e4', '\u00ff', '\u0416', '\ud800'),
        fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
      ),
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(
          text.filter((t) => t !== ''),
          {
            minLength: 1,
            maxLength: BY_VALUE_LIMIT + 4,
            selector: (t) => Buffer.from(t).toString('base64'),
          },
        ),
        fc.array(text, { maxLength: 6 }),
        (credentials, others) => {
          const tokens = known(...credentials);
          const matcher = of(tokens);
          const byHash = new Map(tokens.map((t) => [hashClientToken(t.credential), t.authentication]));
          const requests = [
            ...credentials.flatMap((c) => [c, Buffer.from(c).toString('latin1'), `${c}x`, c.slice(1)]),
            ...others,
          ];
          for (const request of requests) {
            expect(answer(matcher, request)).toBe(byHash.get(hashCredential(request)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it(`keeps more than ${BY_VALUE_LIMIT} tokens by hash`, () => {
    const credentials = Array.from({ length: BY_VALUE_LIMIT + 1 }, (_, i) => `token-${i}`);
    const matcher = of(known(...credentials));
    expect(matcher.match('token-0')).toBeUndefined();
    expect(matcher.find(hashClientToken('token-0'))?.id).toBe('t0');
    expect(matcher.find(hashClientToken(`token-${BY_VALUE_LIMIT}`))?.id).toBe(`t${BY_VALUE_LIMIT}`);
  });

  it('refuses an empty credential, one declared twice (by any method), a bad authentication or a bad list', () => {
    const refusal = (declared: ConstructorParameters<typeof KnownClientTokens>[0]) => {
      try {
        new KnownClientTokens(declared);
      } catch (error) {
        expect(error).toMatchObject({ code: ErrorCodes.PLUGIN_INVALID });
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refusal([{ method: 'token', tokens: known('') }])).toBe(
      'plugin "token": clientTokens [0] has an empty credential (a non-empty string)',
    );
    expect(
      refusal([
        { method: 'a', tokens: known('x') },
        { method: 'b', tokens: known('y', 'x') },
      ]),
    ).toBe(
      'plugin "b": clientTokens [1] has the same credential as a token of plugin "a"; each token needs its own',
    );
    // Two strings with the same bytes are the same credential.
    expect(refusal([{ method: 'a', tokens: known('\ud800', '\udc00') }])).toMatch(
      /\[1\] has the same credential/,
    );
    expect(
      refusal([
        { method: 'a', tokens: [{ credential: 'x', authentication: { id: 'x' } as Authentication }] },
      ]),
    ).toMatch(/^plugin "a": clientTokens \[0\] /);
    expect(refusal([{ method: 'a', tokens: 'x' as unknown as KnownClientToken[] }])).toBe(
      'plugin "a": clientTokens must be a list of { credential, authentication }',
    );
    expect(refusal([{ method: 'a', tokens: [null as unknown as KnownClientToken] }])).toBe(
      'plugin "a": clientTokens [0] is not { credential, authentication }',
    );
    const throwing = {
      get credential(): string {
        throw new Error('cannot read s3cr3t');
      },
      authentication: auth('x'),
    };
    expect(refusal([{ method: 'a', tokens: [throwing] }])).toBe(
      'plugin "a": clientTokens [0] cannot be read (a getter threw)',
    );
    // Valid but changeable: every request would be handed this one object, unchecked.
    expect(
      refusal([
        {
          method: 'a',
          tokens: [{ credential: 'x', authentication: { id: 'x', method: 'METHOD_A', metadata: {} } }],
        },
      ]),
    ).toBe(
      'plugin "a": clientTokens [0] has an authentication not made with frozenAuthentication (every request is handed it as it is)',
    );
    expect(refusal([{ method: 'a', tokens: known('x', 'y') }])).toBe('accepted');
  });
});
