import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real servers and real training steps: generous timeouts, no timing assertions.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // One file at a time on 2 cores keeps servers and engine processes from starving each other.
    fileParallelism: false,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
