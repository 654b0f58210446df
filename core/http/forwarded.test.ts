import { describe, expect, it } from 'vitest';
import { forwardedPrefix } from './forwarded.ts';
import { MAX_ORIGINAL_STATE, newLoginState, sameState } from './login-state.ts';

describe('forwardedPrefix', () => {
  it('joins the values as Go’s path.Join does', () => {
    expect(forwardedPrefix(undefined)).toBe('');
    expect(forwardedPrefix('')).toBe('');
    expect(forwardedPrefix('/flipt')).toBe('/flipt');
    expect(forwardedPrefix('/flipt/')).toBe('/flipt');
    expect(forwardedPrefix(['/a', 'b/'])).toBe('/a/b');
    expect(forwardedPrefix('/a/../b')).toBe('/b');
    expect(forwardedPrefix('/')).toBe('');
  });

  it('gives "" for anything a redirect could leave this origin through', () => {
    for (const hostile of [
      '//evil.example',
      'https://evil.example',
      'evil.example',
      '/\\evil.example',
      '/%2fevil',
      '/a b',
      '../x',
    ]) {
      const prefix = forwardedPrefix(hostile);
      expect(prefix === '' || /^\/[^/\\]/.test(prefix), hostile).toBe(true);
      expect(`${prefix}/`.startsWith('//')).toBe(false);
    }
    expect(forwardedPrefix('//evil.example')).toBe('/evil.example');
    expect(forwardedPrefix('https://evil.example')).toBe('');
    expect(forwardedPrefix('/\\evil.example')).toBe('');
    expect(forwardedPrefix('/%2fevil')).toBe('');
  });
});

describe('login state', () => {
  it('is Flipt’s: padded base64url of {security_token, original_state}', () => {
    const state = newLoginState('<ui & state>');
    expect(state).toMatch(/^[A-Za-z0-9_-]+=*$/);
    expect(state.length % 4).toBe(0);
    const json = Buffer.from(state, 'base64url').toString();
    expect(json).toMatch(
      /^\{"security_token":"[A-Za-z0-9_-]{86}==","original_state":"\\u003cui \\u0026 state\\u003e"\}$/,
    );
    expect(newLoginState('')).not.toBe(newLoginState(''));
  });

  it('refuses a client state too long for a cookie', () => {
    expect(() => newLoginState('x'.repeat(MAX_ORIGINAL_STATE + 1))).toThrow(
      /state must be at most 1024 characters/,
    );
  });

  it('matches only a non-empty state equal to the cookie', () => {
    expect(sameState('abc', 'abc')).toBe(true);
    expect(sameState('abc', 'abd')).toBe(false);
    expect(sameState('abc', 'abcd')).toBe(false);
    expect(sameState('', '')).toBe(false);
    expect(sameState(undefined, 'abc')).toBe(false);
    expect(sameState('abc', undefined)).toBe(false);
  });
});
