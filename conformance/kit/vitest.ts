/**
 * `portcullis/conformance/vitest`: registers conformance cases with vitest.
 *
 * @packageDocumentation
 */
import { describe, it } from 'vitest';
import { skippedReason } from './skip.ts';
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
        async (context) => {
          if (conformanceCase.skip !== undefined) return context.skip(conformanceCase.skip);
          try {
            await conformanceCase.run();
          } catch (error) {
            const reason = skippedReason(error);
            if (reason === undefined) throw error;
            context.skip(reason);
          }
        },
        CASE_TIMEOUT_MS,
      );
    }
  });
}
