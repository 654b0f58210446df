/** Issue 20: the `${secret:...}` reference parser against arbitrary strings (see core/test-support/fuzz.ts). */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz, fuzzTimeout, nastyString } from '../test-support/fuzz.ts';
import { isSecretReference, parseSecretReference } from './parse.ts';

const inner = fc.oneof(
  nastyString(40),
  fc.array(fc.stringMatching(/^[A-Za-z0-9_/.-]{0,8}$/), { maxLength: 5 }).map((parts) => parts.join(':')),
);
const values = fc.oneof(
  nastyString(60),
  inner.map((text) => `\${secret:${text}}`),
  fc.tuple(nastyString(8), inner, nastyString(8)).map(([a, text, b]) => `${a}\${secret:${text}}${b}`),
);

it(
  'reference parser: any string gives undefined, a located message, or a reference whose parts rebuild it',
  async () => {
    await fuzz(
      'secret reference parser',
      values,
      (raw) => {
        const parsed = parseSecretReference(raw);
        expect(parsed === undefined).toBe(!isSecretReference(raw));
        if (parsed === undefined) return;
        if (!parsed.ok) {
          expect(parsed.message).toMatch(/^invalid secret reference/);
          return;
        }
        const { provider, path, key } = parsed.reference;
        for (const part of [provider, path, key ?? 'x']) expect(part).toMatch(/^[A-Za-z0-9_/.-]+$/);
        expect(`\${secret:${[provider, path, ...(key === undefined ? [] : [key])].join(':')}}`).toBe(raw);
      },
      5000,
    );
  },
  fuzzTimeout(20_000),
);
