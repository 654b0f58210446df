import { describe, expect, it } from 'vitest';
import { credentialIssues, staticClientTokens } from './static-tokens.ts';

const startedAt = new Date('2026-08-22T10:00:00.123Z');
const tokens = [{ name: 'bootstrap', credential: 's3cr3t', metadata: { role: 'admin' } }];

describe('staticClientTokens', () => {
  it('declares each configured credential with a never-expiring METHOD_TOKEN authentication named like the token', () => {
    expect(staticClientTokens(tokens, startedAt)).toEqual([
      {
        credential: 's3cr3t',
        authentication: {
          id: 'bootstrap',
          method: 'METHOD_TOKEN',
          createdAt: startedAt,
          updatedAt: startedAt,
          metadata: { role: 'admin' },
        },
      },
    ]);
  });

  it('hands out one object that no caller can change: frozen, its metadata frozen, its dates read-only', () => {
    const [declared] = staticClientTokens(tokens, startedAt);
    const found = declared?.authentication as {
      metadata: Record<string, string>;
      createdAt: Date;
      id: string;
    };
    expect(() => {
      found.metadata.role = 'viewer';
    }).toThrow(TypeError);
    expect(() => {
      found.id = 'other';
    }).toThrow(TypeError);
    expect(() => found.createdAt.setTime(0)).toThrow(TypeError);
    expect(() => found.createdAt.setFullYear(1999)).toThrow(TypeError);
    expect(found).toMatchObject({ id: 'bootstrap', metadata: { role: 'admin' }, createdAt: startedAt });
    expect(found.createdAt.getTime()).toBe(startedAt.getTime());
    // The configured metadata stays the operator's: a copy was frozen, not it.
    expect(Object.isFrozen(tokens[0]?.metadata)).toBe(false);
  });
});

describe('credentialIssues', () => {
  it('refuses empty and shared credentials, worded for literals and for resolved references', () => {
    const given = [
      { name: 'a', credential: 'x' },
      { name: 'b', credential: ' ' },
      { name: 'c', credential: 'x' },
    ];
    expect(credentialIssues(given, false)).toEqual([
      {
        path: ['storage', 'tokens', 'b', 'credential'],
        message: 'authentication: credential non-empty value is required',
      },
      {
        path: ['storage', 'tokens', 'c', 'credential'],
        message: `authentication: credential is the same as token "a"'s; each token needs its own`,
      },
    ]);
    const resolved = credentialIssues(given, true).map((issue) => issue.message);
    expect(resolved[0]).toMatch(/\(the secret it references is empty\)$/);
    expect(resolved[1]).toMatch(/resolves to the same value as token "a"'s/);
    expect(resolved.join('\n')).not.toContain('x');
    // Two strings with the same UTF-8 bytes (lone surrogates both encode as U+FFFD) are one credential.
    expect(
      credentialIssues(
        [
          { name: 'k', credential: '\ud800x' },
          { name: 'k2', credential: '\udc00x' },
        ],
        true,
      ),
    ).toEqual([
      {
        path: ['storage', 'tokens', 'k2', 'credential'],
        message: `authentication: credential resolves to the same value as token "k"'s; each token needs its own`,
      },
    ]);
  });
});
