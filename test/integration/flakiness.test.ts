import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, type Res } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { EventLog } from '../../lib/event-log.ts';
import { makeEvent } from '../../domain/events.ts';
import { CaseFlakiness, FlakinessResponse } from '../../schemas/flakiness.ts';
import { assessFlakiness } from '../../domain/analytics/flakiness/service.ts';
import { flakinessScores } from '../../domain/pg/flakiness-scores.ts';
import { caseExecutions } from '../../domain/ch/flakiness.ts';
import { DEFAULT_PARAMS, dayOf, evidenceOf } from '../../domain/analytics/flakiness/score.ts';
import { FlakinessProjection } from '../../projections/flakiness/projection.ts';
import { createLogger } from '../../lib/logger.ts';

// Twelve runs of fifteen tests on main, over HTTP, with one of each kind of
// evidence; run 10 is an infrastructure incident (12 of 15 tests fail).
const RUNS = 12;
const INCIDENT_RUN = 10;
const FILLERS = 10;
type Kind = 'stable' | 'retry' | 'sameCommit' | 'lone' | 'broken';
const KINDS: Kind[] = ['stable', 'retry', 'sameCommit', 'lone', 'broken'];
const commitOf = (run: number) => (run === 6 ? 'c0mmit5' : `c0mmit${run}`); // run 6 re-runs run 5's commit

function outcome(kind: Kind | 'filler', run: number): Record<string, unknown> {
  const failed = { status: 'failed', error: { message: `expected 200, got 500 in run ${run}` } };
  if (run === INCIDENT_RUN && kind !== 'broken') {
    if (kind === 'filler' || kind === 'stable') return { ...failed, error: { message: 'ECONNREFUSED 10.0.0.1:5432' } };
  }
  switch (kind) {
    case 'retry':
      return run === 3 || run === 9
        ? { status: 'passed', isFlaky: true, retries: 1, attempt: 2, attempts: [
            { attempt: 1, status: 'failed', duration: 50, error: { message: 'Timed out 5000ms waiting for #cart' } },
            { attempt: 2, status: 'passed', duration: 60 }] }
        : { status: 'passed' };
    case 'sameCommit':
      return run === 6 ? failed : { status: 'passed' };
    case 'lone':
      return run === 4 ? failed : { status: 'passed' };
    case 'broken':
      return run >= 8 ? failed : { status: 'passed' };
    default:
      return { status: 'passed' };
  }
}

let stack: TestStack;
let a: Tenant;
let b: Tenant;
let apiA: ReturnType<typeof client>;
let apiB: ReturnType<typeof client>;
const caseOf: Partial<Record<Kind, string>> = {};
const testIdOf: Partial<Record<Kind, string>> = {};
const runIds: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse', 'flakiness'], overrides: { flakinessSweepMs: 300 } });
  a = await createTenant(stack.url, 'a');
  b = await createTenant(stack.url, 'b');
  apiA = client(stack.url, { key: a.apiKey });
  apiB = client(stack.url, { key: b.apiKey });
  const start = Date.now() - RUNS * 3600_000;
  for (let run = 0; run < RUNS; run++) {
    const r = await apiA.post('/api/runs', runBody(a.projectId, { branch: 'main', commitSha: commitOf(run) }));
    expect(r.status).toBe(201);
    runIds.push(r.body.id);
    const startedAt = new Date(start + run * 3600_000).toISOString();
    const tests: Array<[Kind | 'filler', number]> = [...KINDS.map((k, i) => [k, i] as [Kind, number]), ...Array.from({ length: FILLERS }, (_, i) => ['filler', 100 + i] as ['filler', number])];
    for (const [kind, i] of tests) {
      const res = await apiA.post('/api/tests', testBody(a.projectId, r.body.id, i, { startedAt, steps: [], ...outcome(kind, run) }));
      expect(res.status, res.text).toBe(201);
      if (kind !== 'filler') {
        caseOf[kind] = res.body.testCaseId;
        testIdOf[kind] = res.body.id;
      }
    }
    await apiA.patch(`/api/runs/${r.body.id}`, { status: run === INCIDENT_RUN || run >= 8 ? 'failed' : 'passed' });
  }
  await stack.waitForProjections();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

const byCase = (res: Res) => new Map<string, any>(res.body.data.map((d: any) => [d.testCaseId, d]));

describe('GET /api/flakiness', () => {
  it('scores every test case with Euriqa fields, interval, classification and evidence, highest score first', async () => {
    const res = await apiA.get(`/api/flakiness?projectId=${a.projectId}`);
    expect(res.status).toBe(200);
    expect(FlakinessResponse.safeParse(res.body).success, JSON.stringify(FlakinessResponse.safeParse(res.body).error?.issues?.slice(0, 3))).toBe(true);
    expect(res.body.total).toBe(KINDS.length + FILLERS);
    const scores = res.body.data.map((d: any) => d.flakinessScore);
    expect(scores).toEqual([...scores].sort((x, y) => y - x));
    expect(res.body.summary).toMatchObject({ totalFlakyTests: 3, brokenTests: 1, quarantinedTests: 0, testsScored: 15, incidentRuns: 1 });
    expect(res.body.scoringVersion).toBe('flakiness-v1');
    expect(res.body.source).toBe('snapshot'); // stored by the flakiness projection

    const items = byCase(res);
    const retry = items.get(caseOf.retry!);
    expect(retry).toMatchObject({
      testId: caseOf.retry, testTitle: 'case 1', filePath: 'tests/area-1.spec.ts', totalRuns: 11, flakyRuns: 2,
      classification: 'flaky', isQuarantined: false,
      evidence: { retryFlakes: 2, sameCommitFlakes: 0, incidentExecutionsExcluded: 1, exampleRunIds: [runIds[9], runIds[3]],
        firstFlakyCommit: 'c0mmit3', lastFlakyCommit: 'c0mmit9' },
    });
    expect(retry.interval.lower).toBeLessThan(retry.flakinessScore);
    expect(retry.interval.upper).toBeGreaterThan(retry.flakinessScore);
    expect(Date.parse(retry.lastFlakyAt)).toBeGreaterThan(Date.parse(retry.evidence.firstFlakyAt));
    expect(items.get(caseOf.sameCommit!)).toMatchObject({ classification: 'flaky', flakyRuns: 1, evidence: { sameCommitFlakes: 1, flakyCommits: 1, firstFlakyCommit: 'c0mmit5' } });
    expect(items.get(caseOf.lone!)).toMatchObject({ classification: 'flaky', evidence: { transientFailures: 1, flips: 2 } });
    // runs 8–11 failed; run 10 was the incident, so the streak has three
    expect(items.get(caseOf.broken!)).toMatchObject({ classification: 'broken', flakyRuns: 0, evidence: { brokenFailures: 3, currentFailureStreak: 3 } });
    // The incident's failures are not evidence: the test that only failed there is stable.
    expect(items.get(caseOf.stable!)).toMatchObject({ classification: 'stable', flakyRuns: 0, totalRuns: 11, evidence: { incidentExecutionsExcluded: 1 } });
  });

  it('GET /api/tests/:id/flakiness answers the list item of each test case, by its id or a result\'s, stored or scored live', async () => {
    const list = byCase(await apiA.get('/api/flakiness?limit=500'));
    const one = async (id: string, query = '') => {
      const res = await apiA.get(`/api/tests/${id}/flakiness${query}`);
      expect(res.status, res.text).toBe(200);
      expect(CaseFlakiness.safeParse(res.body).success, JSON.stringify(CaseFlakiness.safeParse(res.body).error?.issues?.slice(0, 3))).toBe(true);
      const { asOf, source, ...item } = res.body;
      expect(Date.parse(asOf)).not.toBeNaN();
      return { source, item };
    };
    for (const kind of KINDS) {
      const stored = await one(caseOf[kind]!);
      expect(stored, kind).toEqual({ source: 'snapshot', item: list.get(caseOf[kind]!) });
      expect(await one(testIdOf[kind]!), kind).toEqual(stored);
    }
    // On a branch, scored live like the list on that branch.
    const onMain = byCase(await apiA.get('/api/flakiness?branch=main&limit=500'));
    expect(await one(caseOf.retry!, '?branch=main')).toEqual({ source: 'live', item: onMain.get(caseOf.retry!) });
    // A test case that did not run on a branch is unscored there.
    expect((await one(caseOf.retry!, '?branch=release')).item).toMatchObject({
      testCaseId: caseOf.retry, fullTitle: 'Suite 1 > case 1', flakinessScore: expect.any(Number), totalRuns: 0, classification: 'insufficient_data',
    });
  });

  it('reads from ClickHouse only the sparse histories, and they give the evidence the whole histories give', async () => {
    const asOf = new Date();
    const params = DEFAULT_PARAMS;
    const assessed = await assessFlakiness(stack.ch, { projectId: a.projectId, asOf }, params);
    const asOfDay = dayOf(Math.floor(asOf.getTime() / 1000));
    const whole = await caseExecutions(stack.ch, { projectId: a.projectId, fromDay: assessed.fromDay }, assessed.incidentRuns);
    expect(assessed.cases.filter((c) => c.evidence.failures > 0 || c.evidence.flakyExecutions > 0).length).toBeGreaterThan(3);
    for (const c of assessed.cases) {
      const full = evidenceOf(whole.get(c.testCaseId)!, asOfDay, params);
      expect({ ...c.evidence, weightedExecutions: 0 }, c.testCaseId).toEqual({ ...full, weightedExecutions: 0, examples: full.examples.map((x) => ({ ...x, commit: expect.any(String) })), firstFlaky: full.firstFlaky && { ...full.firstFlaky, commit: expect.any(String) }, lastFlaky: full.lastFlaky && { ...full.lastFlaky, commit: expect.any(String) } });
      expect(c.evidence.weightedExecutions).toBeCloseTo(full.weightedExecutions, 9);
    }
  });

  it('serves the stored scores exactly as scoring live gives them, and keeps them current', async () => {
    const paths = ['', '?limit=3&offset=2', '?minScore=0.05', '?classification=stable'];
    const read = async (path: string) => {
      const res = await apiA.get(`/api/flakiness${path}`);
      expect(res.status).toBe(200);
      const { asOf, source, ...rest } = res.body;
      return { source, asOf, rest };
    };
    const stored = await Promise.all(paths.map(read));
    expect(stored.map((x) => x.source)).toEqual(paths.map(() => 'snapshot'));
    // Without stored scores the route scores live; the sweep then stores them again.
    await flakinessScores.remove(stack.pool, [a.projectId]);
    const live = await Promise.all(paths.map(read));
    expect(live.map((x) => x.source)).toEqual(paths.map(() => 'live'));
    expect(live.map((x) => x.rest)).toEqual(stored.map((x) => x.rest));
    await expect.poll(async () => (await read('')).source, { timeout: 20_000 }).toBe('snapshot');
    expect((await read('')).rest).toEqual(stored[0]!.rest);
    // A branch filter is always scored live.
    expect((await apiA.get('/api/flakiness?branch=main')).body.source).toBe('live');

    // A new run: once the projection applied it (read-your-writes), the stored scores count it.
    const run = await apiA.post('/api/runs', runBody(a.projectId, { branch: 'main', commitSha: 'c0mmit12' }));
    const t = await apiA.post('/api/tests', testBody(a.projectId, run.body.id, KINDS.indexOf('lone'), { startedAt: new Date().toISOString(), steps: [], status: 'failed', error: { message: 'again' } }));
    const after = await apiA.get('/api/flakiness', { 'x-runledger-position': t.headers.get('x-runledger-position')! });
    expect(after.headers.get('x-runledger-stale')).toBeNull();
    expect(after.body.source).toBe('snapshot');
    const lone = byCase(after).get(caseOf.lone!);
    expect(lone).toMatchObject({ totalRuns: 12, evidence: { failures: 2 } });
    await flakinessScores.remove(stack.pool, [a.projectId]);
    expect(byCase(await apiA.get('/api/flakiness')).get(caseOf.lone!)).toEqual(lone);
    await apiA.del(`/api/runs/${run.body.id}`);
    await stack.waitForProjections();
    await expect.poll(async () => byCase(await apiA.get('/api/flakiness')).get(caseOf.lone!)?.totalRuns, { timeout: 20_000 }).toBe(11);
  });

  it('filters by minimum score, classification and branch, and pages', async () => {
    const flaky = await apiA.get(`/api/flakiness?projectId=${a.projectId}&minScore=0.05`);
    expect(flaky.body.data.map((d: any) => d.classification).sort()).toEqual(['flaky', 'flaky', 'flaky']);
    expect((await apiA.get(`/api/flakiness?classification=broken`)).body.data.map((d: any) => d.testCaseId)).toEqual([caseOf.broken]);
    expect((await apiA.get(`/api/flakiness?branch=release`)).body).toMatchObject({ data: [], total: 0 });
    expect((await apiA.get(`/api/flakiness?branch=main`)).body.total).toBe(15);
    const page = await apiA.get(`/api/flakiness?limit=2&offset=1`);
    expect(page.body).toMatchObject({ total: 15, limit: 2, offset: 1 });
    expect(page.body.data).toHaveLength(2);
  });

  it("reads the project's settings: with a 90 % incident threshold run 10 is evidence again", async () => {
    await stack.pool.query(`INSERT INTO project_settings (project_id, settings) VALUES ($1, $2)`,
      [a.projectId, { flakiness: { incidentFailureShare: 0.9, halfLifeDays: 'not a number' } }]);
    try {
      const res = await apiA.get(`/api/flakiness`);
      expect(res.body.summary.incidentRuns).toBe(0);
      expect(res.body.window.halfLifeDays).toBe(7);
      expect(byCase(res).get(caseOf.stable!)).toMatchObject({ classification: 'flaky', evidence: { transientFailures: 1 } });
      // Settings change outside the log: the sweep scores the project again with them.
      await expect.poll(async () => (await apiA.get('/api/flakiness')).body.source, { timeout: 20_000 }).toBe('snapshot');
      expect((await apiA.get('/api/flakiness')).body.summary.incidentRuns).toBe(0);
    } finally {
      await stack.pool.query('DELETE FROM project_settings WHERE project_id = $1', [a.projectId]);
    }
  });
});

describe('quarantine', () => {
  it('quarantines by hand with reason, owner and expiry, lists it for reporters, and releases it', async () => {
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const q = await apiA.post('/api/flakiness', { testId: testIdOf.retry, projectId: a.projectId, isQuarantined: true, reason: 'flaky cart timeout', owner: 'jane@example.com', expiresAt });
    expect(q.status, q.text).toBe(200);
    expect(q.body).toMatchObject({ testId: testIdOf.retry, testCaseId: caseOf.retry, isQuarantined: true, reason: 'flaky cart timeout', mode: 'manual', owner: 'jane@example.com', expiresAt });
    expect(q.headers.get('x-runledger-position')).toMatch(/^\d+:\d+$/);
    await stack.waitForProjections();

    const list = await apiA.get(`/api/quarantine?projectId=${a.projectId}`);
    expect(list.body).toMatchObject({ total: 1, data: [{ testCaseId: caseOf.retry, fullTitle: 'Suite 1 > case 1', filePath: 'tests/area-1.spec.ts', reason: 'flaky cart timeout', mode: 'manual', owner: 'jane@example.com', expiresAt }] });
    expect(list.body.data[0].quarantinedBy).toMatch(/^api_key:key_/);
    const flaky = await apiA.get(`/api/flakiness?quarantined=true`);
    expect(flaky.body.data.map((d: any) => [d.testCaseId, d.isQuarantined])).toEqual([[caseOf.retry, true]]);
    expect(flaky.body.summary.quarantinedTests).toBe(1);

    const release = await apiA.post('/api/flakiness', { testId: caseOf.retry, projectId: a.projectId, isQuarantined: false });
    expect(release.body).toMatchObject({ isQuarantined: false, reason: 'released by hand', owner: null, expiresAt: null });
    await stack.waitForProjections();
    expect((await apiA.get('/api/quarantine')).body).toMatchObject({ total: 0, data: [] });
    const history = await apiA.get(`/api/tests/${testIdOf.retry}/quarantine-history`);
    expect(history.status).toBe(200);
    expect(history.body).toMatchObject({ total: 2, testCaseId: caseOf.retry });
    expect(history.body.data.map((h: any) => [h.isQuarantined, h.reason, h.mode])).toEqual([[false, 'released by hand', 'manual'], [true, 'flaky cart timeout', 'manual']]);
  });

  it('keeps an expired quarantine off the list even before its release is recorded', async () => {
    const log = new EventLog(stack.kafka, stack.config.topic, 10_000);
    const past = new Date(Date.now() - 60_000).toISOString();
    await log.append([makeEvent('test.quarantine_changed', {
      projectId: a.projectId, runId: null, actor: { type: 'system', id: 'test' }, correlationId: null, now: new Date(Date.now() - 3_600_000).toISOString(),
      data: { testCaseId: caseOf.lone!, isQuarantined: true, reason: 'until a minute ago', mode: 'manual', owner: null, expiresAt: past, changedAt: new Date(Date.now() - 3_600_000).toISOString() },
    })]);
    await log.close();
    await stack.waitForProjections();
    expect((await apiA.get('/api/quarantine')).body.total).toBe(0);
    expect((await apiA.get(`/api/tests/${caseOf.lone}/quarantine-history`)).body.total).toBe(1);
  });
});

describe('bad input and other projects', () => {
  let baseline = 0;
  const settle = async () => (baseline = await stack.topicEnd());
  beforeAll(settle);

  const cases: Array<[string, () => Promise<Res>, number, string?]> = [
    ["GET /api/flakiness with another project's id", () => apiB.get(`/api/flakiness?projectId=${a.projectId}`), 404],
    ['GET /api/flakiness with minScore=2', () => apiA.get('/api/flakiness?minScore=2'), 400, 'minScore'],
    ['GET /api/flakiness with minScore=abc', () => apiA.get('/api/flakiness?minScore=abc'), 400, 'minScore'],
    ['GET /api/flakiness with quarantined=yes', () => apiA.get('/api/flakiness?quarantined=yes'), 400, 'quarantined'],
    ['GET /api/flakiness with classification=bogus', () => apiA.get('/api/flakiness?classification=bogus'), 400, 'classification'],
    ['GET /api/flakiness with limit=0', () => apiA.get('/api/flakiness?limit=0'), 400, 'limit'],
    ['GET /api/flakiness with a malformed projectId', () => apiA.get('/api/flakiness?projectId=proj_abc123'), 400, 'projectId'],
    ['GET /api/flakiness with a branch over 500 characters', () => apiA.get(`/api/flakiness?branch=${'b'.repeat(501)}`), 400, 'branch'],
    ['GET the flakiness of a malformed id', () => apiA.get('/api/tests/latest/flakiness'), 400],
    ['GET the flakiness of a run id', () => apiA.get(`/api/tests/${runIds[0]}/flakiness`), 400],
    ['GET the flakiness of an unknown test case', () => apiA.get(`/api/tests/tc_${'Z'.repeat(26)}/flakiness`), 404],
    ['GET the flakiness of an unknown test result', () => apiA.get(`/api/tests/test_${'Z'.repeat(26)}/flakiness`), 404],
    ["GET the flakiness of another project's test case", () => apiB.get(`/api/tests/${caseOf.retry}/flakiness`), 404],
    ["GET the flakiness of another project's test", () => apiB.get(`/api/tests/${testIdOf.retry}/flakiness`), 404],
    ['GET the flakiness with a branch over 500 characters', () => apiA.get(`/api/tests/${caseOf.retry}/flakiness?branch=${'b'.repeat(501)}`), 400, 'branch'],
    ['GET /api/quarantine with limit=10001', () => apiA.get('/api/quarantine?limit=10001'), 400, 'limit'],
    ["GET /api/quarantine with another project's id", () => apiB.get(`/api/quarantine?projectId=${a.projectId}`), 404],
    ['GET quarantine-history of a malformed id', () => apiA.get('/api/tests/latest/quarantine-history'), 400],
    ['GET quarantine-history of an unknown test case', () => apiA.get(`/api/tests/tc_${'Z'.repeat(26)}/quarantine-history`), 404],
    ["GET quarantine-history of another project's test", () => apiB.get(`/api/tests/${testIdOf.retry}/quarantine-history`), 404],
    ["GET quarantine-history of another project's test case", () => apiB.get(`/api/tests/${caseOf.retry}/quarantine-history`), 404],
    ['POST /api/flakiness without testId', () => apiA.post('/api/flakiness', { projectId: a.projectId, isQuarantined: true }), 400, 'testId'],
    ['POST /api/flakiness with a malformed testId', () => apiA.post('/api/flakiness', { testId: 'test_def456', projectId: a.projectId, isQuarantined: true }), 400, 'testId'],
    ['POST /api/flakiness with isQuarantined as a string', () => apiA.post('/api/flakiness', { testId: caseOf.retry, projectId: a.projectId, isQuarantined: 'true' }), 400, 'isQuarantined'],
    ['POST /api/flakiness with an expiry in the past', () => apiA.post('/api/flakiness', { testId: caseOf.retry, projectId: a.projectId, isQuarantined: true, expiresAt: '2020-01-01T00:00:00Z' }), 400, 'expiresAt'],
    ['POST /api/flakiness releasing with an owner', () => apiA.post('/api/flakiness', { testId: caseOf.retry, projectId: a.projectId, isQuarantined: false, owner: 'x' }), 400, 'expiresAt'],
    ['POST /api/flakiness with an empty reason', () => apiA.post('/api/flakiness', { testId: caseOf.retry, projectId: a.projectId, isQuarantined: true, reason: ' ' }), 400, 'reason'],
    ['POST /api/flakiness for an unknown test case', () => apiA.post('/api/flakiness', { testId: `tc_${'Z'.repeat(26)}`, projectId: a.projectId, isQuarantined: true }), 404],
    ["POST /api/flakiness on another project", () => apiB.post('/api/flakiness', { testId: caseOf.retry, projectId: a.projectId, isQuarantined: true }), 404],
    ["POST /api/flakiness with another project's test under its own project", () => apiB.post('/api/flakiness', { testId: caseOf.retry, projectId: b.projectId, isQuarantined: true }), 404],
  ];
  for (const [name, call, status, field] of cases) {
    it(`${name} → ${status}, nothing appended`, async () => {
      const res = await call();
      expect(res.status, res.text).toBe(status);
      expect(Object.keys(res.body.error).sort()).toEqual(['code', 'details', 'message']);
      if (field) expect(res.body.error.details.field).toBe(field);
      const before = baseline;
      expect(await settle()).toBe(before);
    });
  }

  it('POST /api/flakiness with a read-only key → 403', async () => {
    const key = await client(stack.url, { token: a.token }).post('/api/api-keys', { projectId: a.projectId, name: 'read', scope: 'read' });
    const res = await client(stack.url, { key: key.body.key }).post('/api/flakiness', { testId: caseOf.retry, projectId: a.projectId, isQuarantined: true });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('insufficient_scope');
    expect((await client(stack.url, { key: key.body.key }).get('/api/quarantine')).status).toBe(200);
  });
});

// One scoring per project per window (coalesceMs) coalesces a stream of small
// batches; a batch far behind its partition's end (a catch-up) does not wait
// for the window, or a catch-up would drain one fetch per window.
describe('the flakiness projection between scorings', () => {
  const WINDOW_MS = 8000;
  // A batch of one run.updated of the project, at a position ClickHouse already
  // applied (the projection waits for nothing there), `behind` the end of its
  // partition; and when the project's stored scores were computed.
  async function projectBatch(projectId = b.projectId) {
    const [at] = await stack.ch.select<{ p: number; o: string }>(
      `SELECT partition AS p, toString(max(offset)) AS o FROM projection_offsets_v1 WHERE projection = 'clickhouse' GROUP BY partition ORDER BY partition LIMIT 1`,
    );
    const offset = Number(at!.o);
    const event = makeEvent('run.updated', {
      projectId, runId: runIds[0]!, actor: { type: 'system', id: 'test' }, correlationId: null, now: new Date().toISOString(),
      data: { id: runIds[0]!, status: 'passed', stats: null, duration: null, updatedAt: new Date().toISOString(), run: { branch: 'main', commitSha: commitOf(0), createdAt: new Date().toISOString() } },
    });
    return {
      batch: (behind: number) => ({
        topic: stack.config.topic, partition: Number(at!.p), lastOffset: offset, behind,
        events: [{ partition: Number(at!.p), offset, event, message: { key: null, value: null, headers: {} } }],
      }),
      scoredAt: async () => (await stack.pool.query('SELECT scored_at AS t FROM flakiness_snapshots WHERE project_id = $1', [projectId])).rows[0].t as Date,
    };
  }

  it('scores a catch-up batch at once, and a batch at the end of its partition only after the window', { timeout: 30_000 }, async () => {
    const projection = new FlakinessProjection(stack.pool, stack.ch, createLogger('test', 'silent'), { coalesceMs: WINDOW_MS });
    const { batch, scoredAt } = await projectBatch();
    await projection.apply(batch(0)); // the first scoring of this instance: no window yet
    const first = await scoredAt();
    await projection.apply(batch(50_000)); // within the window, but far behind: scored again at once
    const second = await scoredAt();
    expect(second.getTime()).toBeGreaterThan(first.getTime());
    expect(second.getTime() - first.getTime()).toBeLessThan(WINDOW_MS);
    // At the end of its partition a batch waits for the window.
    let settled = false;
    const third = projection.apply(batch(0)).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(settled).toBe(false);
    expect((await scoredAt()).getTime()).toBe(second.getTime());
    await third;
    expect((await scoredAt()).getTime()).toBeGreaterThan(second.getTime());
    await projection.close();
  });

  // However short the window, ClickHouse rests as long as a project's last
  // scoring took before a batch at the end of its partition scores the project
  // again: scoring reads the whole history, and at a fixed window it came to
  // occupy ClickHouse while fresh results waited to be inserted.
  it('waits after a scoring as long as the scoring took', { timeout: 30_000 }, async () => {
    const DELAY_MS = 400;
    // The real ClickHouse, slower to answer. Scoring project a takes at least
    // three queries one after the other (its counts, its incident's, the
    // histories of its failing cases), so at least 3 × DELAY_MS.
    const slow = new Proxy(stack.ch, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (key === 'select') return async (...args: Parameters<typeof target.select>) => {
          await new Promise((r) => setTimeout(r, DELAY_MS));
          return target.select(...args);
        };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const projection = new FlakinessProjection(stack.pool, slow, createLogger('test', 'silent'), { coalesceMs: 0 });
    const { batch, scoredAt } = await projectBatch(a.projectId);
    await projection.apply(batch(0));
    const first = await scoredAt();
    await projection.apply(batch(0));
    const second = await scoredAt();
    // With the rest, the second scoring starts at least 2 × 3 × DELAY_MS after
    // the first; without it, as soon as the first ended and the second batch
    // waited for ClickHouse's position (one more query): about 4 × DELAY_MS.
    expect(second.getTime() - first.getTime()).toBeGreaterThanOrEqual(5.5 * DELAY_MS);
    await projection.close();
  });
});
