import { defineConfig } from '@playwright/test';

// The suite the client packages' end-to-end test runs (test/e2e/playwright-reporter.test.ts)
// in a scratch project outside this repository, where the reporter is the package
// installed from its tarball: Debian's Chromium, retries: 2, one test per shard slot
// (fullyParallel), so a file's suite is reported by both shards.
export default defineConfig({
  testDir: '.',
  outputDir: process.env.E2E_OUTPUT_DIR ?? 'test-results',
  retries: 2,
  workers: 1,
  fullyParallel: true,
  timeout: 15_000,
  reporter: [
    ['list'],
    ['json', { outputFile: `${process.env.E2E_OUTPUT_DIR ?? 'test-results'}/report.json` }],
    ['@runledger/playwright-reporter', {
      runTitle: 'e2e demo shop',
      tags: ['e2e'],
      quarantine: process.env.E2E_QUARANTINE === '1',
      endTimeoutMs: Number(process.env.E2E_END_TIMEOUT_MS ?? 30_000),
      flushIntervalMs: 200,
      // Spill files and the list of unsent results go with the test's output.
      spoolDir: process.env.E2E_OUTPUT_DIR,
    }],
  ],
  use: {
    baseURL: process.env.SITE_URL,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        viewport: { width: 1280, height: 720 },
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        },
      },
    },
  ],
});
