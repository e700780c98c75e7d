// The same suite from a CommonJS playwright.config.js, the layout of a project
// without "type": "module"; the browser comes from a device preset, as
// `npm init playwright` writes it. Copied into the scratch project as playwright.config.js.
const { defineConfig, devices } = require('@playwright/test');

const out = process.env.E2E_OUTPUT_DIR || 'test-results';
module.exports = defineConfig({
  testDir: '.',
  outputDir: out,
  retries: 2,
  workers: 1,
  fullyParallel: true,
  timeout: 15_000,
  reporter: [
    ['list'],
    ['json', { outputFile: `${out}/report.json` }],
    ['junit', { outputFile: `${out}/junit.xml` }],
    ['@runledger/playwright-reporter', { runTitle: 'e2e demo shop (cjs)', flushIntervalMs: 200, spoolDir: out }],
  ],
  use: { baseURL: process.env.SITE_URL, screenshot: 'only-on-failure' },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        },
      },
    },
  ],
});
