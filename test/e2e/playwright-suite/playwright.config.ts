import { defineConfig } from '@playwright/test';

// The suite the reporter's end-to-end test runs (test/e2e/playwright-reporter.test.ts):
// Debian's Chromium, retries: 2, the Runledger reporter configured from the environment.
export default defineConfig({
  testDir: '.',
  outputDir: process.env.E2E_OUTPUT_DIR ?? '/tmp/runledger-e2e-results',
  retries: 2,
  workers: 1,
  timeout: 15_000,
  reporter: [
    ['list'],
    ['../../../clients/playwright-reporter/src/index.ts', {
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
