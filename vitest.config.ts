import { defineConfig } from 'vitest/config';

// One run for the whole workspace: each package keeps its tests in <package>/test.
// Servers under test bind 127.0.0.1 on free ports, so files may run in parallel.
export default defineConfig({
  test: {
    include: ['*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
