import { configDefaults, defineConfig } from 'vitest/config';

// Sample projects the JUnit fixtures were generated from (they fail on purpose).
const exclude = [...configDefaults.exclude, 'test/fixtures/**'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: [...exclude, 'test/e2e/**', 'test/faults/**'], sequence: { groupOrder: 0 } } },
      // Real Playwright and Chromium: run after the rest, so the browser's CPU does not
      // starve the timing-sensitive integration tests on a small machine.
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude, sequence: { groupOrder: 1 } } },
      // Fault injection (test/faults): services and processes killed and restarted.
      // Last and one file at a time, so an outage one file causes meets no other.
      { extends: true, test: { name: 'faults', include: ['test/faults/**/*.test.ts'], exclude, fileParallelism: false, sequence: { groupOrder: 2 } } },
    ],
  },
});
