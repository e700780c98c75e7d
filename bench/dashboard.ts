// The dashboard's speed (docs/dashboard.md "Speed"): the initial JavaScript it
// ships, a run page with 5,000 tests becoming interactive, and the trends page's
// drawing time once its data arrived. Real Chromium against a real stack; each
// page figure comes with a baseline measured in the same run.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { resolve } from 'node:path';
import { chromium } from '@playwright/test';
import { startTestStack } from '../test/support/stack.ts';
import { createTenant } from '../test/support/tenants.ts';
import { client } from '../test/support/http.ts';
import { runBody, testBody } from '../test/support/fixtures.ts';

const DIST = resolve('web/dist');
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' };

// What index.html loads before anything else: its module script, the chunks it
// preloads, and its stylesheets, each gzipped as a server would send it.
export function initialAssets() {
  const html = readFileSync(`${DIST}/index.html`, 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  const files = refs.map((r) => {
    const raw = readFileSync(`${DIST}${r}`);
    return { file: r, bytes: raw.length, gzipBytes: gzipSync(raw, { level: 9 }).length };
  });
  const js = files.filter((f) => f.file.endsWith('.js'));
  return { files, initialJsGzipKB: round(js.reduce((a, f) => a + f.gzipBytes, 0) / 1024), initialCssGzipKB: round(files.filter((f) => f.file.endsWith('.css')).reduce((a, f) => a + f.gzipBytes, 0) / 1024) };
}

export async function measureDashboard(tests = Number(process.env.BENCH_DASHBOARD_TESTS ?? 5000)) {
  const assets = initialAssets();
  // The test stack's 6 s consumer session is too short for 1,000-result batches on a
  // loaded machine (the group drops the member mid-batch and the batch is retried).
  const stack = await startTestStack({ projections: ['postgres', 'clickhouse'], overrides: { consumerSessionTimeoutMs: 60_000 } });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const tenant = await createTenant(stack.url, 'bench');
    const api = client(stack.url, { key: tenant.apiKey });
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    for (let off = 0; off < tests; off += 500) {
      const items = Array.from({ length: Math.min(500, tests - off) }, (_, i) => ({
        type: 'test', ...testBody(tenant.projectId, run.id, off + i, (off + i) % 97 === 0 ? { status: 'failed', error: { message: `boom ${off + i}` } } : {}),
      }));
      const r = await api.post('/api/ingest/batch', items);
      if (r.status !== 200) throw new Error(`batch: ${r.status} ${r.text}`);
    }
    await api.patch(`/api/runs/${run.id}`, { status: 'failed' });
    await stack.waitForProjections(undefined, 600_000);

    const context = await browser.newContext({ baseURL: stack.url, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto('/login');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    // Run page: from navigation start until every test is listed and a click on
    // the first row opens its details; three times, the median.
    const runPage: number[] = [];
    const fetchOnly: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`/runs/${run.id}`);
      await page.waitForFunction((n) => document.querySelector('[data-testid="shown-count"]')?.textContent?.includes(`of ${n} tests`), tests, { timeout: 60_000 });
      await page.locator('.trow button').first().click();
      await page.getByTestId('test-detail').waitFor();
      runPage.push(await page.evaluate(() => performance.now()));
      // Baseline: the same page's bare fetches of the run and its tests (no rendering).
      fetchOnly.push(await page.evaluate(async ({ runId, projectId, n }) => {
        const t0 = performance.now();
        await fetch(`/api/runs/${runId}`).then((r) => r.json());
        const pages = [];
        for (let off = 0; off < n; off += 500) pages.push(fetch(`/api/tests?projectId=${projectId}&runId=${runId}&limit=500&offset=${off}`).then((r) => r.json()));
        await Promise.all(pages);
        return performance.now() - t0;
      }, { runId: run.id, projectId: tenant.projectId, n: tests }));
    }
    // Scrolling the virtual list to its end: rows rendered stay few.
    const renderedRows = await page.evaluate(async () => {
      const list = document.querySelector('.vlist')!;
      list.scrollTop = list.scrollHeight;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return document.querySelectorAll('.trow').length;
    });

    // Trends page at its largest (365 days, by day): from the last trends response
    // to the last chart drawn.
    const draw: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`/projects/${tenant.projectId}/trends?period=365d&interval=day`);
      await page.waitForFunction(() => performance.getEntriesByType('mark').filter((m) => m.name.startsWith('chart-drawn:')).length >= 5, undefined, { timeout: 60_000 });
      draw.push(await page.evaluate(() => {
        const responses = performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/analytics/trends')) as PerformanceResourceTiming[];
        const marks = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('chart-drawn:'));
        return Math.max(...marks.map((m) => m.startTime)) - Math.max(...responses.map((r) => r.responseEnd));
      }));
    }
    await context.close();
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      ...assets,
      runPageTests: tests,
      runPageInteractiveMs: round(med(runPage)),
      runPageFetchOnlyMs: round(med(fetchOnly)),
      runPageVsFetch: round(med(runPage) / med(fetchOnly)),
      virtualRowsRendered: renderedRows,
      trendsDrawAfterDataMs: round(Math.max(0, med(draw))),
      goals: { initialJsGzipKB: 250, runPageInteractiveMs: 1500, trendsDrawAfterDataMs: 1000 },
    };
  } finally {
    await browser.close();
    await stack.stop();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;
