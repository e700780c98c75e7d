// The dashboard's speed (docs/dashboard.md "Speed"): the initial JavaScript it
// ships, a run page with 5,000 tests becoming interactive, and the trends page's
// drawing time once its data arrived. Real Chromium against a real stack; each
// page figure comes with a baseline measured in the same run.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { resolve } from 'node:path';
import { loadavg } from 'node:os';
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
  const loadAtStart = loadavg();
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
    // tsx (esbuild keepNames) wraps the named functions inside page.evaluate's
    // callbacks in a __name() helper that the page does not have.
    await context.addInitScript('window.__name = (f) => f;');
    const page = await context.newPage();
    await page.goto('/login');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    // Run page: from navigation start until every test is listed and a click on
    // the first row opens its details; three times, the median. Where the time
    // went (breakdown, from Resource Timing): the page's scripts, the session,
    // the run, the last of its tests, every test listed, the click's detail.
    const runPage: number[] = [];
    const fetchOnly: number[] = [];
    const fetchRunPage: number[] = [];
    const breakdowns: Array<Record<string, number>> = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`/runs/${run.id}`);
      await page.waitForFunction((n) => {
        const listed = document.querySelector('[data-testid="shown-count"]')?.textContent?.includes(`of ${n} tests`);
        if (listed) (window as any).__listedAt ??= performance.now();
        return listed;
      }, tests, { timeout: 60_000 });
      await page.locator('.trow button').first().click();
      await page.getByTestId('test-detail').waitFor();
      runPage.push(await page.evaluate(() => performance.now()));
      breakdowns.push(await page.evaluate(() => {
        const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
        const end = (re: RegExp, f: (xs: number[]) => number = (xs) => Math.max(...xs)) => {
          const xs = res.filter((r) => re.test(r.name)).map((r) => r.responseEnd);
          return xs.length ? Math.round(f(xs)) : -1;
        };
        const detail = res.filter((r) => /\/api\/tests\/test_[^/?]+$/.test(r.name));
        return {
          scriptsLoaded: end(/\/assets\/.*\.js$/),
          session: end(/\/api\/auth\/(me|session)$/),
          run: end(/\/api\/runs\/run_[^/?]+$/),
          firstTests: end(/\/api\/tests\?/, (xs) => Math.min(...xs)),
          allTests: end(/\/api\/tests\?/),
          testRequests: res.filter((r) => /\/api\/tests\?/.test(r.name)).length,
          listed: Math.round((window as any).__listedAt),
          detailRequested: detail.length ? Math.round(detail[0]!.startTime) : -1,
          detailLoaded: detail.length ? Math.round(detail[0]!.responseEnd) : -1,
          interactive: Math.round(performance.now()),
        };
      }));
      // Baselines: bare fetches of the run and its tests, with no rendering. The
      // first as the page requested them until 2026-12 (the run, then ten pages of
      // 500 at once); the second as it requests them now (the run and 300 tests at
      // once, then the rest in pages of 2,500), when the API serves that.
      fetchOnly.push(await page.evaluate(async ({ runId, projectId, n }) => {
        const t0 = performance.now();
        await fetch(`/api/runs/${runId}`).then((r) => r.json());
        const pages = [];
        for (let off = 0; off < n; off += 500) pages.push(fetch(`/api/tests?projectId=${projectId}&runId=${runId}&limit=500&offset=${off}`).then((r) => r.json()));
        await Promise.all(pages);
        return performance.now() - t0;
      }, { runId: run.id, projectId: tenant.projectId, n: tests }));
      fetchRunPage.push(await page.evaluate(async ({ runId, n }) => {
        const t0 = performance.now();
        const json = (path: string) => fetch(path).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${path}: ${r.status}`))));
        const first = json(`/api/tests?runId=${runId}&limit=300`);
        await json(`/api/runs/${runId}`);
        const pages = [first];
        for (let off = 300; off < n; off += 2500) pages.push(json(`/api/tests?runId=${runId}&limit=2500&offset=${off}`));
        await Promise.all(pages);
        return performance.now() - t0;
      }, { runId: run.id, n: tests }).catch(() => -1));
    }
    // What the page's processing costs in this browser, on this run's data:
    // parsing its results' JSON, and sorting and grouping them (failures first,
    // then by title; the suite tree) with String.prototype.localeCompare, as the
    // page does, and with an Intl.Collator, the alternative (slower in V8); the
    // median of five, alternating.
    const cpu = await page.evaluate(async ({ runId, projectId, n }) => {
      const texts: string[] = [];
      for (let off = 0; off < n; off += 500) texts.push(await fetch(`/api/tests?projectId=${projectId}&runId=${runId}&limit=500&offset=${off}`).then((r) => r.text()));
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const timed = (f: () => unknown) => {
        const t0 = performance.now();
        f();
        return performance.now() - t0;
      };
      let all: Array<{ status: string; fullTitle: string; filePath: string }> = [];
      const jsonParseMs = median([0, 1, 2, 3, 4].map(() => timed(() => (all = texts.flatMap((t) => JSON.parse(t).data)))));
      const order: Record<string, number> = { failed: 0, timedOut: 0, interrupted: 1, flaky: 2, passed: 3, skipped: 4 };
      const group = (xs: typeof all) => {
        const tree = new Map<string, number>();
        for (const x of xs) for (const part of [x.filePath, ...x.fullTitle.split(' > ').slice(0, -1)]) tree.set(part, (tree.get(part) ?? 0) + 1);
        return tree.size;
      };
      const collator = new Intl.Collator('en');
      const byLocaleCompare: number[] = [];
      const byCollator: number[] = [];
      for (let i = 0; i < 5; i++) {
        byLocaleCompare.push(timed(() => group([...all].sort((a, b) => (order[a.status] ?? 5) - (order[b.status] ?? 5) || a.fullTitle.localeCompare(b.fullTitle)))));
        byCollator.push(timed(() => group([...all].sort((a, b) => (order[a.status] ?? 5) - (order[b.status] ?? 5) || collator.compare(a.fullTitle, b.fullTitle)))));
      }
      return { jsonParseMs, sortGroupLocaleCompareMs: median(byLocaleCompare), sortGroupCollatorMs: median(byCollator) };
    }, { runId: run.id, projectId: tenant.projectId, n: tests });
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
      runPageFetchAsNowMs: round(med(fetchRunPage)),
      // the median run's breakdown (ms from navigation start)
      runPageBreakdown: breakdowns[runPage.indexOf(med(runPage))],
      runPageCpu: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v)])),
      // 1, 5 and 15 min, when the bench started and when it ended
      loadAverage: { start: loadAtStart.map(round), end: loadavg().map(round) },
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
