/**
 * `portcullis/conformance/vitest`: registers conformance cases with vitest.
 *
 * @packageDocumentation
 */
import { describe, it } from 'vitest';
import { runCase } from './skip.ts';
import type { ConformanceCase } from './types.ts';

/** How long one case may take: some start a server and an identity provider round trip. */
const CASE_TIMEOUT_MS = 30_000;

/**
 * Registers a `describe(title)` with one `it` per case. A case with `skip`, or one that finds at run time that it
 * cannot apply (`CaseSkipped`), is reported skipped with the reason as the skip note.
 */
export function describeCases(title: string, cases: readonly ConformanceCase[]): void {
  describe(title, () => {
    for (const conformanceCase of cases) {
      it(
        conformanceCase.name,
        (context) => runCase(conformanceCase, (reason) => context.skip(reason)),
        CASE_TIMEOUT_MS,
      );
    }
  });
}
