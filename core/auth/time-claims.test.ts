import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acceptedUntilMs, TIME_CLAIM_RULES, type TimeClaimRules, timeClaimsProblem } from './time-claims.ts';

// A whole second, so that claims at `NOW_S ± n` sit exactly n seconds from the clock.
const NOW_S = 1_800_000_000;
const NOW_MS = NOW_S * 1000;
const ok = (rules: TimeClaimRules, claims: Record<string, unknown>) =>
  timeClaimsProblem(claims, rules, NOW_MS) === undefined;

describe('time claims: every token kind at the edges of its leeways', () => {
  for (const [kind, rules] of Object.entries(TIME_CLAIM_RULES) as Array<[string, TimeClaimRules]>) {
    // A token that is otherwise valid for this kind: issued a moment ago, expiring in a while.
    const valid = { iat: NOW_S - 10, exp: NOW_S + 600 };

    it(`${kind}: nbf up to ${rules.notBeforeLeewayS} s ahead is accepted, a second more is refused`, () => {
      expect(ok(rules, { ...valid, nbf: NOW_S + rules.notBeforeLeewayS })).toBe(true);
      expect(ok(rules, { ...valid, nbf: NOW_S + rules.notBeforeLeewayS + 1 })).toBe(false);
      expect(timeClaimsProblem({ ...valid, nbf: NOW_S + rules.notBeforeLeewayS + 1 }, rules, NOW_MS)).toMatch(
        /nbf/,
      );
      // Go compares with the clock's fraction: a millisecond past the edge is past it.
      expect(timeClaimsProblem({ ...valid, nbf: NOW_S + rules.notBeforeLeewayS }, rules, NOW_MS - 1)).toMatch(
        /nbf/,
      );
    });

    it(`${kind}: exp up to ${rules.expiryLeewayS} s behind is accepted, a second more is refused`, () => {
      const iat = Math.min(valid.iat, NOW_S - rules.expiryLeewayS - 30);
      const fresh = rules.maxAgeS === undefined ? { iat } : { iat: NOW_S - 10 };
      expect(ok(rules, { ...fresh, exp: NOW_S - rules.expiryLeewayS })).toBe(true);
      expect(ok(rules, { ...fresh, exp: NOW_S - rules.expiryLeewayS - 1 })).toBe(false);
      expect(timeClaimsProblem({ ...fresh, exp: NOW_S - rules.expiryLeewayS - 1 }, rules, NOW_MS)).toMatch(
        /exp/,
      );
      expect(timeClaimsProblem({ ...fresh, exp: NOW_S - rules.expiryLeewayS }, rules, NOW_MS + 1)).toMatch(
        /exp/,
      );
    });

    if (rules.issuedAtLeewayS === undefined) {
      it(`${kind}: iat is not compared with the clock (as the Go library)`, () => {
        expect(ok(rules, { ...valid, iat: NOW_S + 86_400 })).toBe(true);
      });
    } else {
      const leeway = rules.issuedAtLeewayS;
      it(`${kind}: iat up to ${leeway} s ahead is accepted, a second more is refused`, () => {
        // With nbf given, so that cap does not take iat for nbf and refuse the token on that account.
        const started = { ...valid, nbf: NOW_S - 10 };
        expect(ok(rules, { ...started, iat: NOW_S + leeway })).toBe(true);
        expect(timeClaimsProblem({ ...started, iat: NOW_S + leeway + 1 }, rules, NOW_MS)).toMatch(/iat/);
      });
    }

    if (rules.maxAgeS !== undefined) {
      const maxAge = rules.maxAgeS;
      it(`${kind}: at most ${maxAge} s old, and iat required`, () => {
        expect(ok(rules, { iat: NOW_S - maxAge, exp: NOW_S + 60 })).toBe(true);
        expect(timeClaimsProblem({ iat: NOW_S - maxAge - 1, exp: NOW_S + 60 }, rules, NOW_MS)).toMatch(
          /too old/,
        );
        expect(timeClaimsProblem({ exp: NOW_S + 60 }, rules, NOW_MS)).toMatch(/iat/);
      });
    }

    if (rules.missing === 'exp-required') {
      it(`${kind}: a token without exp is refused`, () => {
        expect(timeClaimsProblem({ iat: NOW_S - 10 }, rules, NOW_MS)).toMatch(/no expiration time/);
      });
    }
    if (rules.missing === 'exp-optional') {
      it(`${kind}: a token without time claims is accepted`, () => {
        expect(ok(rules, {})).toBe(true);
        expect(acceptedUntilMs({}, rules)).toBe(Number.POSITIVE_INFINITY);
      });
    }
  }

  it('the ID token case of the bug report: nbf one second ahead is accepted', () => {
    expect(ok(TIME_CLAIM_RULES.idToken, { iat: NOW_S, nbf: NOW_S + 1, exp: NOW_S + 3600 })).toBe(true);
  });
});

describe('time claims: values no date can hold', () => {
  for (const [kind, rules] of Object.entries(TIME_CLAIM_RULES) as Array<[string, TimeClaimRules]>) {
    it(`${kind}: a claim past ±8.64e12 s, or not finite, is refused, not taken as missing`, () => {
      for (const name of ['iat', 'nbf', 'exp']) {
        for (const value of [1e308, -1e308, Number.POSITIVE_INFINITY, Number.NaN, 8.64e12 + 1]) {
          const claims = { iat: NOW_S - 10, exp: NOW_S + 60, [name]: value };
          expect(timeClaimsProblem(claims, rules, NOW_MS)).toMatch(
            new RegExp(`invalid ${name} claim: not a date`),
          );
        }
      }
      expect(timeClaimsProblem({ iat: NOW_S - 10, exp: '2099-01-01' }, rules, NOW_MS)).toMatch(
        /not a date \(string\)/,
      );
    });
  }
});

describe('time claims: hashicorp/cap’s rules for the jwt method', () => {
  const rules = TIME_CLAIM_RULES.jwt;

  it('needs one of iat, nbf and exp; a claim of 0 counts as missing', () => {
    expect(timeClaimsProblem({}, rules, NOW_MS)).toBe(
      'no issued at (iat), not before (nbf), or expiration time (exp) claims in token',
    );
    expect(timeClaimsProblem({ iat: 0, nbf: 0, exp: 0 }, rules, NOW_MS)).toMatch(/no issued at/);
  });

  it('without exp, a token lives 150 s from its latest start, plus the minute of leeway', () => {
    expect(ok(rules, { iat: NOW_S - 210 })).toBe(true);
    expect(ok(rules, { iat: NOW_S - 211 })).toBe(false);
    expect(ok(rules, { iat: NOW_S - 1000, nbf: NOW_S - 210 })).toBe(true);
    expect(acceptedUntilMs({ iat: NOW_S }, rules)).toBe((NOW_S + 210) * 1000);
  });

  it('without nbf, the token starts at iat, or 150 s before exp', () => {
    expect(ok(rules, { exp: NOW_S + 210 })).toBe(true);
    expect(ok(rules, { exp: NOW_S + 211 })).toBe(false);
  });
});

describe('time claims: written down once', () => {
  it('the README table gives, for each token kind, the numbers the rules use', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = new Map(
      [...readme.matchAll(/^ *\| `(\w+)`[^|]* \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm)].map(
        ([, kind, nbf, exp, iat]) => [kind, [nbf, exp, iat].map((cell) => cell?.trim())] as const,
      ),
    );
    for (const [kind, rules] of Object.entries(TIME_CLAIM_RULES) as Array<[string, TimeClaimRules]>) {
      const row = rows.get(kind);
      expect(row, `README row for ${kind}`).toBeDefined();
      const [nbf, exp, iat] = row ?? [];
      expect(nbf).toBe(`${rules.notBeforeLeewayS} s`);
      expect(exp).toMatch(new RegExp(`^${rules.expiryLeewayS} s`));
      expect(iat).toMatch(
        rules.issuedAtLeewayS === undefined ? /^not checked/ : new RegExp(`^${rules.issuedAtLeewayS} s`),
      );
    }
  });
});
