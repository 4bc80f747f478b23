// The chart suite's own vitest run (scripts/test.d/60-chart.sh): its specs need Helm, the API server binaries and
// the CRDs that suite prepares, so the repository-wide `vitest run` (test/**/*.test.ts) does not pick them up.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chart/**/*.spec.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
