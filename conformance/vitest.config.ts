import { defineConfig } from 'vitest/config';

/**
 * The container suites, run by `npm run conformance` (conformance/run.ts), which starts the engine, builds the images
 * and passes their tags in the environment; never by `npm test`.
 */
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['conformance/suites/**/*.suite.ts'],
    // One file at a time: the machine has two cores, and the restart-under-load case measures what it sees.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default', './conformance/report.ts'],
    globalSetup: ['./conformance/suites/support/orphan.ts'],
  },
});
