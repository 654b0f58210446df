import * as crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formToken, formTokenMatches } from './form-token.ts';

// The real timingSafeEqual, watched: formTokenMatches must compare through it, over whole tokens.
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

const SESSION = 'k1B0YF1_YxZfx0c8tq6QUHjJHj2xj9mE6lTnN1QvZ4E=';
const OTHER_SESSION = 'k1B0YF1_YxZfx0c8tq6QUHjJHj2xj9mE6lTnN1QvZ4F=';

afterEach(() => vi.mocked(crypto.timingSafeEqual).mockClear());

describe('formToken', () => {
  it('is HMAC-SHA256 of a fixed label keyed with the credential, base64url, the same every time', () => {
    const token = formToken(SESSION);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(formToken(SESSION)).toBe(token);
    const expected = crypto
      .createHmac('sha256', Buffer.from(SESSION, 'latin1'))
      .update('portcullis web UI form v1')
      .digest('base64url');
    expect(token).toBe(expected);
  });

  it('differs per credential, however alike, and reveals nothing of it', () => {
    const credentials = [
      SESSION,
      OTHER_SESSION,
      `${SESSION} `,
      'Bearer admin-secret',
      'Bearer admin-secreT',
      'Basic YWRtaW46c2VjcmV0',
      'é-credential',
      'x',
    ];
    const tokens = credentials.map(formToken);
    expect(new Set(tokens).size).toBe(credentials.length);
    for (const [index, token] of tokens.entries()) {
      const credential = credentials[index] ?? '';
      if (credential.length < 8) continue;
      expect(token).not.toContain(credential);
      expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain(credential);
    }
  });
});

describe('formTokenMatches', () => {
  it('accepts the credential’s own token only', () => {
    const token = formToken(SESSION);
    expect(formTokenMatches(SESSION, token)).toBe(true);
    expect(formTokenMatches(OTHER_SESSION, token)).toBe(false);
    expect(formTokenMatches(SESSION, formToken(OTHER_SESSION))).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['a number', 42],
    ['an array of it', [formToken(SESSION)]],
    ['an object', { toString: () => formToken(SESSION) }],
    ['its prefix', formToken(SESSION).slice(0, 20)],
    ['it with one more character', `${formToken(SESSION)}A`],
    ['it upper-cased', formToken(SESSION).toUpperCase()],
    [
      'it with the last character changed',
      `${formToken(SESSION).slice(0, -1)}${formToken(SESSION).endsWith('A') ? 'B' : 'A'}`,
    ],
    ['the credential itself', SESSION],
    ['it as standard base64', Buffer.from(formToken(SESSION), 'base64url').toString('base64')],
  ])('refuses %s', (_what, given) => {
    expect(formTokenMatches(SESSION, given)).toBe(false);
  });

  it('compares in constant time: timingSafeEqual over the whole token, whether the first or the last character differs', () => {
    const token = formToken(SESSION);
    const flip = (char: string) => (char === 'A' ? 'B' : 'A');
    const firstDiffers = `${flip(token.charAt(0))}${token.slice(1)}`;
    const lastDiffers = `${token.slice(0, -1)}${flip(token.charAt(token.length - 1))}`;
    for (const given of [firstDiffers, lastDiffers, token]) {
      vi.mocked(crypto.timingSafeEqual).mockClear();
      formTokenMatches(SESSION, given);
      const calls = vi.mocked(crypto.timingSafeEqual).mock.calls;
      expect(calls).toHaveLength(1);
      const [a, b] = calls[0] as [Buffer, Buffer];
      expect(a.length).toBe(token.length);
      expect(b.length).toBe(token.length);
      expect(new Set([Buffer.from(a).toString(), Buffer.from(b).toString()])).toEqual(
        new Set([token, given]),
      );
    }
  });
});
