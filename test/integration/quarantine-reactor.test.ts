import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';

// The auto-quarantine reactor running as its own consumer next to the
// projectors: it quarantines what is flaky enough, never what is broken,
// releases after a clean streak, respects changes made by hand and expiries.
type Api = ReturnType<typeof client>;
const FILLERS = 8;
let stack: TestStack;
let a: Tenant; // auto-quarantine on
let b: Tenant; // auto-quarantine off
let apiA: Api;
let apiB: Api;
const caseOf: Record<string, string> = {};
let hour = 0;
const start = Date.now() - 48 * 3600_000;

// One finished run; `flakyNow` lists the tests that pass only on a retry in it.
async function postRun(api: Api, projectId: string, flakyNow: string[], names = ['flaky', 'pinned', 'broken', 'stable']) {
  const run = (await api.post('/api/runs', runBody(projectId, { commitSha: `c${hour}` }))).body;
  const startedAt = new Date(start + hour++ * 3600_000).toISOString();
  const retried = { status: 'passed', isFlaky: true, retries: 1, attempt: 2, attempts: [
    { attempt: 1, status: 'failed', duration: 40, error: { message: 'Timed out 5000ms' } }, { attempt: 2, status: 'passed', duration: 50 }] };
  const all = [...names.map((n, i) => [n, i] as const), ...Array.from({ length: FILLERS }, (_, i) => [`filler${i}`, 100 + i] as const)];
  for (const [name, i] of all) {
    const extra = name === 'broken' ? { status: 'failed', error: { message: 'expected 200, got 500' } } : flakyNow.includes(name) ? retried : { status: 'passed' };
    const res = await api.post('/api/tests', testBody(projectId, run.id, i, { startedAt, steps: [], ...extra }));
    expect(res.status, res.text).toBe(201);
    caseOf[`${projectId}/${name}`] = res.body.testCaseId;
  }
  expect((await api.patch(`/api/runs/${run.id}`, { status: "failed" })).status).toBe(200);
}

// The reactor appends; the Postgres projector then shows it: wait for both.
async function settle() {
  await stack.waitForProjections();
  await stack.waitForProjections();
}

const HEAVY = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0]; // 8 of 12 runs flaky: lower bound ≈ 0.36

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse', 'quarantine'] });
  a = await createTenant(stack.url, 'a');
  b = await createTenant(stack.url, 'b');
  apiA = client(stack.url, { key: a.apiKey });
  apiB = client(stack.url, { key: b.apiKey });
  await stack.pool.query(
    `INSERT INTO project_settings (project_id, flakiness_threshold, auto_quarantine_enabled, settings) VALUES ($1, 0.3, true, $2)`,
    [a.projectId, { flakiness: { releaseAfterStableRuns: 4 } }],
  );
  // One run first, then a person releases "pinned" by hand: the reactor must leave it alone.
  await postRun(apiA, a.projectId, ['flaky', 'pinned']);
  await settle();
  const pin = await apiA.post('/api/flakiness', { testId: caseOf[`${a.projectId}/pinned`], projectId: a.projectId, isQuarantined: false, reason: 'we own this one' });
  expect(pin.status).toBe(200);
  for (const f of HEAVY.slice(1)) {
    await postRun(apiA, a.projectId, f ? ['flaky', 'pinned'] : []);
    await postRun(apiB, b.projectId, f ? ['flaky'] : []);
  }
  await settle();
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

const quarantineOf = async (api: Api) => (await api.get('/api/quarantine')).body;
const historyOf = async (api: Api, testCaseId: string | undefined) => (await api.get(`/api/tests/${testCaseId}/quarantine-history`)).body.data;

describe('the auto-quarantine reactor', () => {
  it("quarantines a test whose score's lower bound reached the threshold, with its reason, as an automatic change", async () => {
    const list = await quarantineOf(apiA);
    expect(list.data.map((q: any) => q.testCaseId)).toEqual([caseOf[`${a.projectId}/flaky`]]);
    expect(list.data[0]).toMatchObject({ mode: 'automatic', quarantinedBy: 'system:quarantine-reactor', owner: null, expiresAt: null });
    expect(list.data[0].reason).toMatch(/^auto: flakiness 0\.\d{3} with 90% interval 0\.\d{3}–0\.\d{3}, lower bound at or above the threshold 0\.3; \d+ flaky of \d+ runs .*flakiness-v1$/);
    const flakiness = (await apiA.get('/api/flakiness?quarantined=true')).body.data;
    expect(flakiness[0].interval.lower).toBeGreaterThanOrEqual(0.3);
  });

  it('never quarantines a broken test, nor one a person released by hand, nor anything where it is switched off', async () => {
    const flakiness = new Map<string, any>((await apiA.get('/api/flakiness')).body.data.map((d: any) => [d.testCaseId, d]));
    expect(flakiness.get(caseOf[`${a.projectId}/broken`]!)).toMatchObject({ classification: 'broken', isQuarantined: false });
    expect(flakiness.get(caseOf[`${a.projectId}/pinned`]!)).toMatchObject({ classification: 'flaky', isQuarantined: false });
    expect((await historyOf(apiA, caseOf[`${a.projectId}/pinned`]!)).map((h: any) => h.mode)).toEqual(['manual']);
    expect(flakiness.get(caseOf[`${a.projectId}/pinned`]!).interval.lower).toBeGreaterThanOrEqual(0.3);
    expect((await quarantineOf(apiB)).total).toBe(0);
    expect((await apiB.get('/api/flakiness')).body.data[0]).toMatchObject({ testCaseId: caseOf[`${b.projectId}/flaky`], classification: 'flaky' });
  });

  it('releases it after the configured clean streak, and does not put it back for its old flakes', async () => {
    for (let i = 0; i < 4; i++) await postRun(apiA, a.projectId, []);
    await settle();
    expect((await quarantineOf(apiA)).total).toBe(0);
    const history = await historyOf(apiA, caseOf[`${a.projectId}/flaky`]!);
    expect(history.map((h: any) => [h.isQuarantined, h.mode, h.actor])).toEqual([
      [false, 'automatic', 'system:quarantine-reactor'], [true, 'automatic', 'system:quarantine-reactor'],
    ]);
    expect(history[0].reason).toBe('released: 4 clean runs in a row since it was quarantined');
    // still flaky by its score, but nothing new happened: it stays out
    await postRun(apiA, a.projectId, []);
    await settle();
    expect((await quarantineOf(apiA)).total).toBe(0);
    // new flakes bring it back once its lower bound is at the threshold again
    for (let i = 0; i < 3; i++) await postRun(apiA, a.projectId, ['flaky']);
    await settle();
    expect((await quarantineOf(apiA)).data.map((q: any) => q.testCaseId)).toEqual([caseOf[`${a.projectId}/flaky`]]);
  });

  it('releases a quarantine at its expiry', async () => {
    const stable = caseOf[`${a.projectId}/stable`]!;
    const expiresAt = new Date(Date.now() + 2500).toISOString();
    expect((await apiA.post('/api/flakiness', { testId: stable, projectId: a.projectId, isQuarantined: true, expiresAt })).status).toBe(200);
    await settle();
    expect((await quarantineOf(apiA)).data.map((q: any) => q.testCaseId)).toContain(stable);
    await new Promise((r) => setTimeout(r, 3000));
    // the reactor looks at expiries on each batch it handles (and every minute)
    await postRun(apiB, b.projectId, []);
    await settle();
    expect((await quarantineOf(apiA)).data.map((q: any) => q.testCaseId)).not.toContain(stable);
    const history = await historyOf(apiA, stable);
    expect(history.map((h: any) => [h.isQuarantined, h.mode])).toEqual([[false, 'automatic'], [true, 'manual']]);
    expect(history[0].reason).toBe(`quarantine expired at ${expiresAt}`);
  });
});
