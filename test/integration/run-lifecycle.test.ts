import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';

// The foundation's path end to end: HTTP → Kafka → both projectors → every GET.
describe('a run of 200 tests posted over HTTP', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let api: ReturnType<typeof client>;
  let runId: string;
  const testIds: string[] = [];
  const FLAKY = new Set([3, 50, 101, 150, 199]);
  const FAILED = new Set([7, 77]);
  const SKIPPED = new Set([11]);

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    tenant = await createTenant(stack.url);
    api = client(stack.url, { key: tenant.apiKey });

    const run = await api.post('/api/runs', runBody(tenant.projectId, { branch: 'feature/login' }));
    expect(run.status).toBe(201);
    runId = run.body.id;

    const root = await api.post('/api/test-suites', { runId, projectId: tenant.projectId, title: 'Auth', filePath: 'tests/auth.spec.ts' });
    const child = await api.post('/api/test-suites', { runId, projectId: tenant.projectId, title: 'Login', filePath: 'tests/auth.spec.ts', parentSuiteId: root.body.id });
    expect([root.status, child.status]).toEqual([201, 201]);

    for (let i = 0; i < 200; i++) {
      let extra: Record<string, unknown> = {};
      if (FLAKY.has(i)) {
        // Retried then passed: the reporter sends both attempts.
        extra = { status: 'passed', isFlaky: true, retries: 1, attempt: 2, attempts: [
          { attempt: 1, status: 'failed', duration: 50, error: { message: 'Timed out 5000ms' } },
          { attempt: 2, status: 'passed', duration: 60 },
        ] };
      } else if (FAILED.has(i)) {
        extra = { status: 'failed', error: { message: `expected 200, got 500 (${i})`, stack: 'Error\n  at x.spec.ts:1:1', expected: '200', actual: '500' } };
      } else if (SKIPPED.has(i)) {
        extra = { status: 'skipped', steps: [] };
      }
      const res = await api.post('/api/tests', testBody(tenant.projectId, runId, i, { suiteId: child.body.id, ...extra }));
      expect(res.status).toBe(201);
      expect(res.headers.get('x-runledger-position')).toMatch(/^\d+:\d+$/);
      testIds.push(res.body.id);
    }
    const done = await api.patch(`/api/runs/${runId}`, { status: 'failed' });
    expect(done.status).toBe(200);
    await stack.waitForProjections();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('shows the run with counts computed from its tests', async () => {
    const res = await api.get(`/api/runs/${runId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: runId, projectId: tenant.projectId, status: 'failed', branch: 'feature/login',
      totalTests: 200, passedTests: 192, failedTests: 2, skippedTests: 1, flakyTests: 5, passRate: 96,
    });
    expect(res.body.duration).toBeGreaterThanOrEqual(0);
  });

  it('lists the run, filtered by status and branch', async () => {
    const all = await api.get(`/api/runs?projectId=${tenant.projectId}`);
    expect(all.body).toMatchObject({ total: 1, limit: 50, offset: 0 });
    expect(all.body.data[0]).toMatchObject({ id: runId, totalTests: 200, flakyTests: 5 });
    expect((await api.get(`/api/runs?status=passed`)).body.total).toBe(0);
    expect((await api.get(`/api/runs?branch=feature%2Flogin&status=failed`)).body.total).toBe(1);
  });

  it('lists tests of the run with filters, search and pagination', async () => {
    const page = await api.get(`/api/tests?runId=${runId}&limit=50&offset=150`);
    expect(page.body).toMatchObject({ total: 200, limit: 50, offset: 150 });
    expect(page.body.data).toHaveLength(50);
    const flaky = await api.get(`/api/tests?runId=${runId}&status=flaky`);
    expect(flaky.body.total).toBe(5);
    expect(flaky.body.data.every((t: any) => t.isFlaky)).toBe(true);
    const failed = await api.get(`/api/tests?runId=${runId}&status=failed`);
    expect(failed.body.data.map((t: any) => t.error.message).sort()).toEqual(['expected 200, got 500 (7)', 'expected 200, got 500 (77)']);
    const search = await api.get(`/api/tests?runId=${runId}&search=case%20199`);
    expect(search.body.total).toBe(1);
  });

  it('returns a flaky test with both attempts, and its steps in order', async () => {
    const t = await api.get(`/api/tests/${testIds[50]}`);
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ status: 'flaky', isFlaky: true, retries: 1, attempt: 2 });
    expect(t.body.attempts.map((a: any) => a.status)).toEqual(['failed', 'passed']);
    const steps = await api.get(`/api/tests/${testIds[50]}/steps`);
    expect(steps.body.data.map((s: any) => [s.title, s.category, s.depth])).toEqual([
      ['Before Hooks', 'hook', 0], ["page.goto('/page/50')", 'action', 0], ['navigate', 'action', 1],
      ['expect(locator).toBeVisible()', 'assertion', 0],
    ]);
  });

  it('serves history from ClickHouse, by test id or test case id', async () => {
    const byTest = await api.get(`/api/tests/${testIds[7]}/history`);
    expect(byTest.status).toBe(200);
    expect(byTest.body.total).toBe(1);
    expect(byTest.body.data[0]).toMatchObject({ runId, testId: testIds[7], status: 'failed', branch: 'feature/login', commitSha: 'a1b2c3d4e5f6' });
    const byCase = await api.get(`/api/tests/${byTest.body.testCaseId}/history`);
    expect(byCase.body.data).toEqual(byTest.body.data);
  });

  it('nests suites under their parents', async () => {
    const res = await api.get(`/api/test-suites?runId=${runId}`);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({ title: 'Auth', children: [{ title: 'Login', children: [] }] });
  });

  it('keeps ClickHouse facts consistent with Postgres', async () => {
    const rows = await stack.ch.select<{ n: number; flaky: number }>(
      `SELECT toUInt32(count()) AS n, toUInt32(countIf(status = 'flaky')) AS flaky FROM test_results_v1 WHERE run_id = '${runId}'`);
    expect(rows[0]).toEqual({ n: 200, flaky: 5 });
    const runs = await stack.ch.select<{ final_status: string }>(
      `SELECT argMax(status, _offset) AS final_status FROM runs_v1 WHERE run_id = '${runId}' AND status != ''`);
    expect(runs[0]!.final_status).toBe('failed');
  });

  it('answers 404 for another project reading this run and its tests', async () => {
    const other = await createTenant(stack.url, 'other');
    const foreign = client(stack.url, { key: other.apiKey });
    for (const path of [`/api/runs/${runId}`, `/api/tests/${testIds[0]}`, `/api/tests/${testIds[0]}/steps`,
      `/api/tests/${testIds[0]}/history`, `/api/test-suites?runId=${runId}`, `/api/runs?projectId=${tenant.projectId}`,
      `/api/tests?projectId=${tenant.projectId}&runId=${runId}`]) {
      const res = await foreign.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect(res.text).not.toContain('case 1');
    }
    // and its own list does not include the other project's rows
    expect((await foreign.get('/api/runs')).body.total).toBe(0);
    // and naming the other project's run as runId is a 404, as an unknown run (issue 14)
    expect((await foreign.get(`/api/tests?runId=${runId}`)).status).toBe(404);
  });
});
