import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Root-only tests make real cgroups and load BPF programs: running files in parallel would make them share CPUs
    // and skew the accuracy checks on a 2-core machine.
    fileParallelism: false,
    // Heap-growth checks collect garbage before each reading; without gc() they would measure GC timing.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
