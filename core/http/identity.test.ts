import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../config/types.ts';
import { HOP_BY_HOP, identityHeaderNames, upstreamHeaders } from './identity.ts';

const names = identityHeaderNames({ identity_headers: {} } as GatewayConfig);
const hop = { peer: '10.0.0.1', trusted: false, protocol: 'http', host: 'gateway.example' };

/** The reading of a name every header is held to: lower case, `_` as `-` (the spelling before the fast path). */
const reference = (name: string) => name.toLowerCase().replaceAll('_', '-');

/** Headers of which only the gateway's own values may reach the upstream, or none. */
const dropped = (name: string) => {
  const key = reference(name);
  return (
    Object.values(names).includes(key) ||
    key.startsWith('x-forwarded-') ||
    key.startsWith('x-original-') ||
    ['forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'authorization'].includes(key) ||
    HOP_BY_HOP.has(key)
  );
};

/** A header name made of pieces of those that matter, in any case, with `-` and `_` mixed, or any token. */
const headerName = fc.oneof(
  fc
    .constantFrom(
      ...Object.values(names),
      'x-forwarded-for',
      'x-original-uri',
      'x-real-ip',
      'authorization',
      'connection',
      'transfer-encoding',
      'x-request-id',
      'content-type',
    )
    .chain((name) =>
      fc
        .array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: name.length, maxLength: name.length })
        .map((flips) =>
          [...name]
            .map((character, index) => {
              const [upper, underscore] = flips[index] as [boolean, boolean];
              if (character === '-' && underscore) return '_';
              return upper ? character.toUpperCase() : character;
            })
            .join(''),
        ),
    ),
  // Node's parser drops a header named `__proto__` (its headers object is a plain one): none reaches the gateway.
  fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/).filter((name) => name !== '__proto__'),
);

describe('upstreamHeaders', () => {
  it('reads every name as lower case with `_` as `-`, whatever its spelling', () => {
    fc.assert(
      fc.property(headerName, (name) => {
        const sent = upstreamHeaders(
          { [name]: 'forged', host: 'gateway.example' },
          { names, authentication: undefined, passAuthorization: false, hop },
        );
        const forwarded = Object.hasOwn(sent, name) && sent[name] === 'forged';
        expect(forwarded, name).toBe(!dropped(name));
      }),
      { numRuns: 10_000 },
    );
  });

  it('puts the identity in place of a forged one spelt otherwise', () => {
    const sent = upstreamHeaders(
      { X_Auth_Request_User: 'admin', 'X-AUTH-REQUEST-ID': 'admin', 'x-auth-request-email': 'a@b' },
      {
        names,
        authentication: {
          id: 'token-1',
          method: 'METHOD_TOKEN',
          metadata: {},
          createdAt: new Date(0),
          updatedAt: new Date(0),
        } as never,
        passAuthorization: false,
        hop,
      },
    );
    expect(sent).toMatchObject({
      'x-auth-request-id': 'token-1',
      'x-auth-request-method': 'METHOD_TOKEN',
      'x-auth-request-user': 'token-1',
    });
    expect(Object.keys(sent).filter((name) => reference(name).startsWith('x-auth-request-'))).toEqual([
      'x-auth-request-id',
      'x-auth-request-method',
      'x-auth-request-user',
    ]);
  });
});
