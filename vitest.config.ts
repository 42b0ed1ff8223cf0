import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Each test file gets its own process: tests count /proc/self/fd and spawn real peers.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
