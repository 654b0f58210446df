import { describe, expect, it } from 'vitest';
import { isReasonId, Reasons, refusalReason } from './reasons.ts';

describe('reason ids', () => {
  it('are snake_case, lower-case ASCII, at most 64 characters', () => {
    for (const id of Object.values(Reasons)) expect(isReasonId(id), id).toBe(true);
    for (const words of [
      '',
      'Token_expired',
      'token expired',
      'token-expired',
      '_x',
      'x_',
      'a__b',
      'é',
      'x'.repeat(65),
    ]) {
      expect(isReasonId(words), words).toBe(false);
    }
  });

  it("take a thrown error's reason id, else its code's name, else the fallback", () => {
    const fallback = Reasons.METHOD_REFUSED;
    expect(refusalReason({ reason: 'email_not_allowed', code: 'ERR_UNAUTHENTICATED' }, fallback)).toBe(
      'email_not_allowed',
    );
    expect(refusalReason({ code: 'ERR_JWT_EXPIRED' }, fallback)).toBe('jwt_expired');
    expect(refusalReason({ code: 'ECONNREFUSED' }, fallback)).toBe('econnrefused');
    expect(refusalReason({ reason: 'two words', code: 'ERR_JWS_INVALID' }, fallback)).toBe('jws_invalid');
    expect(refusalReason({ code: 'not a code' }, fallback)).toBe(fallback);
    expect(refusalReason({ code: 23 }, fallback)).toBe(fallback);
    expect(refusalReason(new Error('words only'), Reasons.NOT_ADMITTED)).toBe('not_admitted');
    expect(refusalReason(undefined, fallback)).toBe(fallback);
  });
});
