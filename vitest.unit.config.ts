// The unit suite: tests that need no database, container, mount or browser. CI runs it on every
// supported Node major (20 and 24) on top of the full suite.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/profile-validation.test.ts',
      'harness/measure/**/*.test.ts',
      'harness/safety/recovery.test.ts',
      'harness/safety/verifier.test.ts',
      'harness/safety/split-brain.test.ts',
      'harness/report/compare/*.test.ts',
      'harness/report/history/*.test.ts',
      'harness/report/html/render.test.ts',
      'harness/k8s/diagnose.test.ts',
      'harness/k8s/kind-config.test.ts',
      'test/kind-node-image.test.ts',
      'harness/k8s/manifests.test.ts',
      'harness/k8s/render.test.ts',
      'harness/k8s/profiles.test.ts',
      'harness/k8s/cluster.contract.test.ts',
      'harness/k8s/timeline.test.ts',
      'harness/k8s/nightly-workflow.test.ts',
      'harness/k6/loader.test.ts',
      'harness/k6/metrics.test.ts',
      'harness/k6/normalize.test.ts',
      'harness/k6/options.test.ts',
      'harness/patroni/spec.test.ts',
      'harness/workload/big-data-spec.test.ts',
    ],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
  },
});
