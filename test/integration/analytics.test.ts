import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, type Res } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';

// 22 runs on main, one an hour, each with ten fillers and tests that tell a
// story in the last run (21) against the one before (20): a new failure the
// history does not explain, a failure of a test that fails that often anyway,
// a fix, a slowdown, a newly flaky test, a removed test and a new one.
const RUNS = 22;
let stack: TestStack;
let a: Tenant;
let b: Tenant;
let apiA: ReturnType<typeof client>;
let apiB: ReturnType<typeof client>;
const runIds: string[] = [];
const caseOf: Record<string, string> = {};
const FLAKY_FAILS = new Set([3, 8, 13, 18, 21]);

function story(name: string, run: number): Record<string, unknown> | null {
  const failed = (msg: string) => ({ status: 'failed', error: { message: msg, stack: `Error: ${msg}\n    at Cart.checkout (/ci/w${run}/tests/pages/cart.ts:${10 + run}:5)` } });
  switch (name) {
    case 'slow': return { duration: run === 21 ? 2400 : 200 + (run % 5) * 7 };
    case 'newfail': return run === 21 ? failed(`expected 200, got 500 for order ${4000 + run}`) : {};
    case 'flakyfail': return FLAKY_FAILS.has(run) ? failed(`Timed out ${5000 + run}ms waiting for #cart-${run}`) : {};
    case 'fixed': return run === 20 ? failed('expected 3 items, got 2') : {};
    case 'removed': return run === 21 ? null : {};
    case 'added': return run === 21 ? {} : null;
    case 'newlyflaky': return run === 21
      ? { status: 'passed', isFlaky: true, retries: 1, attempt: 2, attempts: [
          { attempt: 1, status: 'failed', duration: 30, error: { message: 'Timed out 3000ms waiting for #menu' } }, { attempt: 2, status: 'passed', duration: 40 }] }
      : {};
    default: return {};
  }
}
const NAMES = ['slow', 'newfail', 'flakyfail', 'fixed', 'removed', 'added', 'newlyflaky', ...Array.from({ length: 10 }, (_, i) => `filler${i}`)];

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  a = await createTenant(stack.url, 'a');
  b = await createTenant(stack.url, 'b');
  apiA = client(stack.url, { key: a.apiKey });
  apiB = client(stack.url, { key: b.apiKey });
  const start = Date.now() - (RUNS + 1) * 3600_000;
  for (let run = 0; run < RUNS; run++) {
    const r = await apiA.post('/api/runs', runBody(a.projectId, { branch: 'main', commitSha: `sha${run}` }));
    runIds.push(r.body.id);
    const startedAt = new Date(start + run * 3600_000).toISOString();
    for (const [i, name] of NAMES.entries()) {
      const extra = story(name, run);
      if (!extra) continue;
      const res = await apiA.post('/api/tests', testBody(a.projectId, r.body.id, i, { title: name, fullTitle: `Shop > ${name}`, startedAt, steps: [], duration: 100 + i, ...extra }));
      expect(res.status, res.text).toBe(201);
      caseOf[name] = res.body.testCaseId;
    }
    await apiA.patch(`/api/runs/${r.body.id}`, { status: 'passed', duration: 60_000 + run * 1000 });
  }
  await stack.waitForProjections();
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

describe('GET /api/runs/:id/compare/:baselineId', () => {
  it('lists what changed and calls it a regression, with reasons from the statistics', async () => {
    const res = await apiA.get(`/api/runs/${runIds[21]}/compare/${runIds[20]}`);
    expect(res.status, res.text).toBe(200);
    const c = res.body;
    expect(c.run).toMatchObject({ id: runIds[21], branch: 'main', commitSha: 'sha21', totals: { tests: 16, failed: 2, flaky: 1 } });
    expect(c.baseline).toMatchObject({ id: runIds[20], totals: { tests: 16, failed: 1 } });
    expect(c.counts).toMatchObject({ newFailures: 2, fixed: 1, stillFailing: 0, newTests: 1, removedTests: 1, newlyFlaky: 1 });
    const failures = new Map<string, any>(c.newFailures.map((f: any) => [f.title, f]));
    // 21 clean runs before: p = 1/22
    expect(failures.get('newfail')).toMatchObject({ assessment: 'regression', history: { executions: 21, failures: 0 }, pValue: 0.0455, error: 'expected 200, got 500 for order 4021' });
    // failed 4 of 21 before: p = 5/22, it fails that often anyway
    expect(failures.get('flakyfail')).toMatchObject({ assessment: 'likely_flaky', history: { executions: 21, failures: 4 }, pValue: 0.2273 });
    expect(c.fixed.map((f: any) => f.title)).toEqual(['fixed']);
    expect(c.newTests.map((f: any) => f.title)).toEqual(['added']);
    expect(c.removedTests.map((f: any) => f.title)).toEqual(['removed']);
    expect(c.newlyFlaky.map((f: any) => f.title)).toEqual(['newlyflaky']);
    expect(c.durationChanges[0]).toMatchObject({ title: 'slow', current: 2400, assessment: 'slower', historyRuns: 21, pValue: 0.0455 });
    expect(c.regression).toBe(true);
    expect(c.regressionReasons[0]).toMatch(/^1 new failure\(s\) their history does not explain \(Fisher's exact test, p < 0\.05\): Shop > newfail/);
    expect(c.regressionReasons.some((r: string) => /that fail that often anyway.*Shop > flakyfail/.test(r))).toBe(true);
  });

  it('says false when nothing got worse, and "unknown" when only a test that often fails failed', async () => {
    const calm = await apiA.get(`/api/runs/${runIds[19]}/compare/${runIds[18]}`);
    expect(calm.body).toMatchObject({ regression: false, regressionReasons: ['no new failures and no significant slowdown'], counts: { newFailures: 0, fixed: 1 } });
    const flaky = await apiA.get(`/api/runs/${runIds[13]}/compare/${runIds[12]}`);
    expect(flaky.body.counts.newFailures).toBe(1);
    expect(flaky.body.regression).toBe('unknown');
  });
});

describe('GET /api/analytics/compare', () => {
  it('puts up to ten runs side by side with the tests whose outcome differs', async () => {
    const res = await apiA.get(`/api/analytics/compare?runIds=${runIds[19]},${runIds[20]},${runIds[21]}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.runs.map((r: any) => r.id)).toEqual([runIds[19], runIds[20], runIds[21]]);
    expect(res.body.runs[2]).toMatchObject({ totals: { tests: 16 }, passRate: 81.25 });
    const byTitle = new Map<string, any>(res.body.tests.map((t: any) => [t.title, t]));
    expect(byTitle.get('newfail').outcomes).toEqual(['passed', 'passed', 'failed']);
    expect(byTitle.get('added').outcomes).toEqual([null, null, 'passed']);
    expect(byTitle.get('fixed').outcomes).toEqual(['passed', 'failed', 'passed']);
    expect(byTitle.has('filler0')).toBe(false);
    expect(res.body).toMatchObject({ testsCompared: 17, differing: res.body.tests.length });
  });
});

describe('GET /api/analytics/trends', () => {
  it('gives a daily series over the period with gaps as null', async () => {
    const res = await apiA.get('/api/analytics/trends?metric=pass_rate&period=7d');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ metric: 'pass_rate', unit: 'percent', period: '7d', interval: 'day' });
    expect(res.body.data).toHaveLength(7);
    const filled = res.body.data.filter((p: any) => p.value !== null);
    expect(filled.reduce((s: number, p: any) => s + p.samples, 0)).toBe(21 * 16 + 16);
    expect(res.body.data.slice(0, 4).every((p: any) => p.value === null && p.samples === 0)).toBe(true);
    for (const p of filled) expect(p.value).toBeGreaterThan(80);
  });

  it('has every metric, weekly buckets, and per-test series', async () => {
    for (const metric of ['flaky_rate', 'failed_tests', 'duration_p50', 'duration_p95', 'run_duration', 'test_count']) {
      const res = await apiA.get(`/api/analytics/trends?metric=${metric}&period=30d&interval=week`);
      expect(res.status, `${metric}: ${res.text}`).toBe(200);
      expect(res.body.data.length).toBeGreaterThanOrEqual(5);
      expect(res.body.summary.latest, metric).not.toBeNull();
    }
    const failed = await apiA.get('/api/analytics/trends?metric=failed_tests&period=7d');
    expect(failed.body.data.reduce((s: number, p: any) => s + (p.value ?? 0), 0)).toBe(FLAKY_FAILS.size + 2);
    expect((await apiA.get('/api/analytics/trends?metric=test_count&period=7d')).body.summary.latest).toBeGreaterThanOrEqual(16);
    expect((await apiA.get('/api/analytics/trends?metric=run_duration&period=7d')).body.summary.latest).toBeGreaterThanOrEqual(60_000);
    const slow = await apiA.get(`/api/analytics/trends?metric=duration_p95&period=7d&testId=${caseOf.slow}`);
    expect(slow.body.testCaseId).toBe(caseOf.slow);
    expect(Math.max(...slow.body.data.map((p: any) => p.value ?? 0))).toBeGreaterThan(200);
    expect((await apiA.get('/api/analytics/trends?metric=pass_rate&branch=release')).body.summary.latest).toBeNull();
  });
});

describe('GET /api/analytics/leaderboards and /errors', () => {
  it('ranks the slowest, most failing and flakiest tests', async () => {
    const res = await apiA.get('/api/analytics/leaderboards?period=7d&limit=3');
    expect(res.status).toBe(200);
    expect(res.body.slowest[0]).toMatchObject({ testCaseId: caseOf.slow, testTitle: 'slow' });
    expect(res.body.failing[0]).toMatchObject({ testCaseId: caseOf.flakyfail, failures: 5, runs: 22 });
    expect(res.body.flakiest.map((t: any) => t.testCaseId)).toContain(caseOf.flakyfail);
    expect(Object.keys((await apiA.get('/api/analytics/leaderboards?type=failing')).body).sort()).toEqual(['branch', 'failing', 'period']);
  });

  it('clusters errors by fingerprint, whatever the numbers, ids, timings and paths', async () => {
    const res = await apiA.get('/api/analytics/errors?period=7d');
    expect(res.status).toBe(200);
    const byPattern = new Map<string, any>(res.body.data.map((c: any) => [c.pattern, c]));
    expect(byPattern.get('Timed out <duration> waiting for #cart-<n>')).toMatchObject({
      occurrences: 5, affectedTests: 1, runs: 5, topFrame: 'Cart.checkout (cart.ts)', mostlyFlaky: false, exampleTestIds: [caseOf.flakyfail],
    });
    expect(byPattern.get('Timed out <duration> waiting for #menu')).toMatchObject({ occurrences: 1, mostlyFlaky: true, flakyShare: 1 });
    expect(res.body.total).toBe(res.body.data.length);
    const one = await apiA.get(`/api/analytics/errors?testId=${caseOf.newfail}`);
    expect(one.body.data.map((c: any) => c.pattern)).toEqual(['expected <n>, got <n> for order <n>']);
  });
});

describe('bad input and other projects', () => {
  const cases: Array<[string, () => Promise<Res>, number, string?]> = [
    ['trends with metric=p99', () => apiA.get('/api/analytics/trends?metric=p99'), 400, 'metric'],
    ['trends with period=14d', () => apiA.get('/api/analytics/trends?period=14d'), 400, 'period'],
    ['trends with interval=hour', () => apiA.get('/api/analytics/trends?interval=hour'), 400, 'interval'],
    ['trends of run durations for one test', () => apiA.get(`/api/analytics/trends?metric=run_duration&testId=${caseOf.slow}`), 400, 'metric'],
    ['trends with a malformed testId', () => apiA.get('/api/analytics/trends?testId=latest'), 400, 'testId'],
    ["trends of another project", () => apiB.get(`/api/analytics/trends?projectId=${a.projectId}`), 404],
    ["trends of another project's test", () => apiB.get(`/api/analytics/trends?testId=${caseOf.slow}`), 404],
    ['leaderboards with limit=101', () => apiA.get('/api/analytics/leaderboards?limit=101'), 400, 'limit'],
    ['leaderboards with type=slow', () => apiA.get('/api/analytics/leaderboards?type=slow'), 400, 'type'],
    ["leaderboards of another project", () => apiB.get(`/api/analytics/leaderboards?projectId=${a.projectId}`), 404],
    ['errors with offset=-1', () => apiA.get('/api/analytics/errors?offset=-1'), 400, 'offset'],
    ["errors of another project", () => apiB.get(`/api/analytics/errors?projectId=${a.projectId}`), 404],
    ['compare with a malformed run id', () => apiA.get(`/api/runs/run_1/compare/${runIds[0]}`), 400],
    ['compare a run with itself', () => apiA.get(`/api/runs/${runIds[0]}/compare/${runIds[0]}`), 400, 'baselineId'],
    ['compare with an unknown baseline', () => apiA.get(`/api/runs/${runIds[0]}/compare/run_${'Z'.repeat(26)}`), 404],
    ["compare another project's runs", () => apiB.get(`/api/runs/${runIds[1]}/compare/${runIds[0]}`), 404],
    ['side by side with one run', () => apiA.get(`/api/analytics/compare?runIds=${runIds[0]}`), 400, 'runIds'],
    ['side by side with eleven runs', () => apiA.get(`/api/analytics/compare?runIds=${runIds.slice(0, 11).join(',')}`), 400, 'runIds'],
    ['side by side with a run twice', () => apiA.get(`/api/analytics/compare?runIds=${runIds[0]},${runIds[0]}`), 400, 'runIds'],
    ['side by side without runIds', () => apiA.get('/api/analytics/compare'), 400, 'runIds'],
    ["side by side of another project's runs", () => apiB.get(`/api/analytics/compare?runIds=${runIds[0]},${runIds[1]}`), 404],
  ];
  for (const [name, call, status, field] of cases) {
    it(`${name} → ${status}`, async () => {
      const res = await call();
      expect(res.status, res.text).toBe(status);
      expect(Object.keys(res.body.error).sort()).toEqual(['code', 'details', 'message']);
      if (field) expect(res.body.error.details.field).toBe(field);
    });
  }

  it('side by side of runs of two projects, by a user of both → 400', async () => {
    // tenant b's admin is the same first user: it can read both projects
    const runB = (await apiB.post('/api/runs', runBody(b.projectId))).body.id;
    await stack.waitForProjections();
    const res = await client(stack.url, { token: a.token }).get(`/api/analytics/compare?runIds=${runIds[0]},${runB}`);
    expect(res.status).toBe(400);
  });
});
