import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { serveForTest } from '../../core/test-support/server.ts';
import { sessionMetadata } from './claims.ts';
import { compileEmailRule, emailPatternProblems } from './email.ts';

const repo = join(import.meta.dirname, '..', '..');

/**
 * `GET /auth/v1/method` for token + oidc with a `google` provider, copied verbatim from the seed document
 * `002_98e91d989fcd6cd5.txt` (Flipt's authentication docs, "Callback URL").
 */
function seedMethodList(): { methods: Array<Record<string, unknown>> } {
  return JSON.parse(readFileSync(join(import.meta.dirname, 'seed-method-list.json'), 'utf8')) as {
    methods: Array<Record<string, unknown>>;
  };
}

describe('GET /auth/v1/method with token and the seed’s google provider', () => {
  it('gives the seed’s entries key for key, and lists the other three methods as disabled', async () => {
    const google = parse(
      readFileSync(join(repo, 'schema', 'examples', 'valid', 'seed-17-oidc-google.yaml'), 'utf8'),
    ) as { authentication: { methods: Record<string, unknown> } };
    const t = await serveForTest({
      authentication: {
        ...google.authentication,
        methods: { ...google.authentication.methods, token: { enabled: true } },
      },
    });
    const { methods } = (await (await t.fetch('/auth/v1/method')).json()) as {
      methods: Array<Record<string, unknown>>;
    };
    // Flipt's docs print `"metadata": null` where its gateway leaves the field out.
    const withoutNullMetadata = ({ metadata, ...entry }: Record<string, unknown>) =>
      metadata === null ? entry : { ...entry, metadata };
    for (const expected of seedMethodList().methods) {
      expect(methods.find((m) => m.method === expected.method)).toEqual(withoutNullMetadata(expected));
    }
    expect(methods.map((m) => m.method)).toEqual([
      'METHOD_TOKEN',
      'METHOD_GITHUB',
      'METHOD_OIDC',
      'METHOD_KUBERNETES',
      'METHOD_JWT',
    ]);
    expect(methods.filter((m) => !m.enabled).map((m) => m.method)).toEqual([
      'METHOD_GITHUB',
      'METHOD_KUBERNETES',
      'METHOD_JWT',
    ]);
  });
});

describe('sessionMetadata', () => {
  it('writes Flipt’s keys, leaves out empty values, and keeps every claim as Go-style JSON', () => {
    const claims = {
      sub: 'mark',
      email: 'mark@flipt.io',
      email_verified: true,
      name: 'Mark <Phelps> & co',
      picture: '',
      profile: 'https://flipt.io/mark',
      aud: 'flipt',
      nested: { z: 1, a: [true, null] },
    };
    expect(sessionMetadata('google', { idToken: claims, merged: claims })).toEqual({
      'io.flipt.auth.oidc.provider': 'google',
      'io.flipt.auth.oidc.email': 'mark@flipt.io',
      'io.flipt.auth.email': 'mark@flipt.io',
      'io.flipt.auth.oidc.email_verified': 'true',
      'io.flipt.auth.oidc.name': 'Mark <Phelps> & co',
      'io.flipt.auth.name': 'Mark <Phelps> & co',
      'io.flipt.auth.oidc.profile': 'https://flipt.io/mark',
      'io.flipt.auth.oidc.sub': 'mark',
      'io.flipt.auth.claims':
        '{"aud":"flipt","email":"mark@flipt.io","email_verified":true,"name":"Mark \\u003cPhelps\\u003e \\u0026 co","nested":{"a":[true,null],"z":1},"picture":"","profile":"https://flipt.io/mark","sub":"mark"}',
    });
  });

  it('reads attributes where a provider’s claims_mapping points, and keeps the claims untouched', () => {
    const claims = { sub: 'opaque-id', upn: 'mark@corp.example', user: { display: 'Mark', id: 42 } };
    const metadata = sessionMetadata(
      'azure',
      { idToken: claims, merged: claims },
      {
        email: '/upn',
        name: '/user/display',
        sub: '/user/id',
        picture: '/missing',
      },
    );
    expect(metadata).toMatchObject({
      'io.flipt.auth.email': 'mark@corp.example',
      'io.flipt.auth.name': 'Mark',
      'io.flipt.auth.oidc.sub': '42',
    });
    expect(metadata['io.flipt.auth.picture']).toBeUndefined();
    expect(JSON.parse(metadata['io.flipt.auth.claims'] ?? '')).toEqual(claims);
  });

  it('takes attributes from the signed ID token, falling back to userinfo only for a missing email, name or picture', () => {
    const idToken = { sub: 'mark', email: 'mark@flipt.io', email_verified: true, name: '' };
    const merged = {
      ...idToken,
      email: 'admin@flipt.io',
      email_verified: false,
      name: 'Mark Phelps',
      picture: 'https://pics/mark.png',
      sub: 'mark',
    };
    expect(sessionMetadata('p', { idToken, merged })).toMatchObject({
      'io.flipt.auth.email': 'mark@flipt.io',
      'io.flipt.auth.oidc.email_verified': 'true',
      'io.flipt.auth.name': 'Mark Phelps',
      'io.flipt.auth.picture': 'https://pics/mark.png',
      'io.flipt.auth.claims': expect.stringContaining('"email":"admin@flipt.io"'),
    });
  });

  it('writes the claims last, so that no claim named like a metadata key can replace it', () => {
    const claims = { sub: 's', 'io.flipt.auth.claims': 'forged' };
    const metadata = sessionMetadata('p', { idToken: claims, merged: claims });
    expect(JSON.parse(metadata['io.flipt.auth.claims'] ?? '')).toEqual({
      sub: 's',
      'io.flipt.auth.claims': 'forged',
    });
  });
});

describe('email_matches', () => {
  it('matches unanchored, as Go’s MatchString does, and allows everyone when empty', () => {
    const rule = compileEmailRule(['@flipt\\.io$', '^admin@']);
    expect(rule.allows('mark@flipt.io')).toBe(true);
    expect(rule.allows('admin@elsewhere.example')).toBe(true);
    expect(rule.allows('mark@flipt.io.evil.example')).toBe(false);
    expect(rule.allows(undefined)).toBe(false);
    expect(compileEmailRule([]).allows(undefined)).toBe(true);
  });

  it('refuses what RE2 refuses (backreferences, lookaround), with Flipt’s message', () => {
    expect(emailPatternProblems(['(a)\\1', '(?=x)', 'ok@'])).toEqual([
      { index: 0, message: expect.stringMatching(/^failed compiling string for pattern: \(a\)\\1: /) },
      { index: 1, message: expect.stringMatching(/^failed compiling string for pattern: \(\?=x\): /) },
    ]);
  });
});
