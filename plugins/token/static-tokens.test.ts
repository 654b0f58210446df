import { describe, expect, it } from 'vitest';
import { hashClientToken } from '../../core/plugins/kit/index.ts';
import { credentialIssues, StaticTokens } from './static-tokens.ts';

const startedAt = new Date('2026-08-22T10:00:00.123Z');
const tokens = [{ name: 'bootstrap', credential: 's3cr3t', metadata: { role: 'admin' } }];

describe('StaticTokens', () => {
  it('answers a configured credential with a never-expiring METHOD_TOKEN authentication named like the token', () => {
    const statics = new StaticTokens(tokens, startedAt);
    expect(statics.find(hashClientToken('s3cr3t'))).toEqual({
      id: 'bootstrap',
      method: 'METHOD_TOKEN',
      createdAt: startedAt,
      updatedAt: startedAt,
      metadata: { role: 'admin' },
    });
    expect(statics.find(hashClientToken('not-a-token'))).toBeUndefined();
    // Looked up by hash only: the credential itself is not a key.
    expect(statics.find('s3cr3t')).toBeUndefined();
  });

  it('hands out copies, so a caller cannot change the token', () => {
    const statics = new StaticTokens(tokens, startedAt);
    const found = statics.find(hashClientToken('s3cr3t')) as {
      metadata: Record<string, string>;
      createdAt: Date;
    };
    found.metadata.role = 'viewer';
    found.createdAt.setTime(0);
    expect(statics.find(hashClientToken('s3cr3t'))).toMatchObject({
      metadata: { role: 'admin' },
      createdAt: startedAt,
    });
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
  });
});
