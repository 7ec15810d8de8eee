import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Database tests are CPU-heavy; on small machines two files at once is the most that stays stable.
    maxWorkers: 2,
    minWorkers: 1,
    pool: 'forks',
  },
});
