import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{bin,core,plugins,secrets,schema,conformance}/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
