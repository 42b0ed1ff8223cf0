import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Fixture processes start from bundles built once, not through tsx each time.
    globalSetup: ['test/support/bundle-fixtures.ts'],
    // Each test file gets its own process: tests count /proc/self/fd and spawn real peers.
    pool: 'forks',
    // Leak tests compare the heap after a forced collection.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
