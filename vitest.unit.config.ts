// The unit suite: tests that need no database, container, mount or browser. CI runs it on every
// supported Node major (20 and 24) on top of the full suite. The tier is the file name: a test that
// needs a service is named `*.e2e.test.ts`; everything else named `*.test.ts` must run without one.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/*.e2e.test.ts', '**/node_modules/**'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
  },
});
