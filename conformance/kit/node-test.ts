/**
 * `portcullis/conformance/node-test`: registers conformance cases with `node:test`.
 *
 * @packageDocumentation
 */
import { after, before, describe, it } from 'node:test';
import { type ResourceWatch, watchResources } from './handles.ts';
import { runCase } from './skip.ts';
import type { ConformanceCase } from './types.ts';

/** How long one case may take: some start a server and an identity provider round trip. */
const CASE_TIMEOUT_MS = 30_000;

/**
 * Registers a `describe(title)` with one `it` per case. A case with `skip`, or one that finds at run time that it
 * cannot apply (`CaseSkipped`), is reported skipped with its reason (`# SKIP <reason>` in TAP).
 */
export function describeCases(title: string, cases: readonly ConformanceCase[]): void {
  describe(title, () => {
    // Every case but the lifecycle one starts the plugin again; a leak it has reported must not hold the run open.
    let watch: ResourceWatch | undefined;
    before(() => {
      watch = watchResources();
    });
    after(() => watch?.releaseAll());
    for (const conformanceCase of cases) {
      it(conformanceCase.name, { timeout: CASE_TIMEOUT_MS }, (context) =>
        runCase(conformanceCase, (reason) => context.skip(reason)),
      );
    }
  });
}
