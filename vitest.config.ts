import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // examples/: the tests of the examples in this repo's suite; an example package's own tests (node:test, .js) are
    // run by the install test, in a project where the example is installed.
    include: ['{bin,core,plugins,secrets,schema,conformance,examples,ui,bench}/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
