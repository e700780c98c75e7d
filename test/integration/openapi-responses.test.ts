import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, request, type Res } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { mountedRoutes } from '../../lib/http/routes.ts';
import { ROUTE_DOCS } from '../../lib/http/openapi.ts';
import * as wh from '../../schemas/webhooks.ts';

// The documented answers of the JSON routes are the real ones: each route is
// called once with a real request, and its body is checked against the schema
// ROUTE_DOCS gives it (the one GET /openapi.json publishes), with the status.
// The published schemas say `additionalProperties: false`; zod's objects strip
// unknown keys instead of failing, so `conforms` also fails on any key the
// parse dropped: a missing field fails the parse, an extra one the key check.

// The routes whose responses this file proves (every one of them is called below).
const PROVEN = [
  'GET /health/ready', 'GET /health/deep',
  'POST /api/runs', 'PATCH /api/runs/:id', 'POST /api/tests', 'POST /api/test-suites',
  'GET /api/tests', 'GET /api/tests/:id', 'GET /api/test-suites', 'POST /api/flakiness',
  'GET /api/analytics/trends', 'GET /api/analytics/leaderboards', 'GET /api/analytics/errors',
  'GET /api/runs/:id/compare/:baselineId', 'GET /api/analytics/compare',
  'GET /api/webhooks', 'POST /api/webhooks', 'GET /api/webhooks/:id', 'PATCH /api/webhooks/:id', 'DELETE /api/webhooks/:id',
  'GET /api/webhooks/:id/deliveries', 'POST /api/webhooks/:id/test',
  'GET /api/schedules', 'POST /api/schedules', 'GET /api/schedules/:id', 'PATCH /api/schedules/:id', 'DELETE /api/schedules/:id',
  'POST /api/schedules/:id/pause', 'POST /api/schedules/:id/resume', 'POST /api/schedules/:id/trigger',
  'GET /api/teams', 'PATCH /api/teams/:id', 'POST /api/auth/accept-invitation',
  'GET /api/auth/session', 'GET /api/tests/:id/flakiness',
];

// The paths (a.b[2].c) of the keys of `input` that the parse left out of `output`.
export function droppedKeys(input: unknown, output: unknown, at = ''): string[] {
  if (Array.isArray(input) && Array.isArray(output)) return input.flatMap((x, i) => droppedKeys(x, output[i], `${at}[${i}]`));
  if (!input || typeof input !== 'object' || !output || typeof output !== 'object' || Array.isArray(output)) return [];
  return Object.entries(input).flatMap(([k, v]) => {
    const path = at ? `${at}.${k}` : k;
    return k in output ? droppedKeys(v, (output as Record<string, unknown>)[k], path) : [path];
  });
}

// Why `body` does not match `schema`, or null.
function mismatch(schema: z.ZodType, body: unknown): string | null {
  const r = schema.safeParse(body);
  if (!r.success) return `${z.prettifyError(r.error)}\n${JSON.stringify(r.error.issues, null, 1).slice(0, 3000)}`;
  const extra = droppedKeys(body, r.data);
  return extra.length ? `undocumented fields: ${extra.join(', ')}` : null;
}

const checked = new Set<string>();
// The answer is the documented one: its status and its schema, from ROUTE_DOCS.
function conforms(route: string, res: Res) {
  const doc = ROUTE_DOCS[route];
  expect(doc, route).toBeDefined();
  expect(res.status, `${route}: ${res.text.slice(0, 500)}`).toBe(doc!.ok.status);
  expect(res.headers.get('content-type'), route).toMatch(/^application\/json/);
  expect(doc!.ok.schema, `${route} has no response schema`).toBeTruthy();
  const problem = mismatch(doc!.ok.schema!, res.body);
  expect(problem, `${route} answered ${res.text.slice(0, 1500)}\n`).toBeNull();
  checked.add(route);
  return res.body;
}
// A list the body must not have empty, so that its items were checked too.
const filled = (what: string, xs: unknown) => expect((xs as unknown[] | undefined)?.length ?? 0, `${what} is empty: its items were not checked`).toBeGreaterThan(0);

let stack: TestStack;
let t: Tenant;
let api: ReturnType<typeof client>;
let admin: ReturnType<typeof client>;
let receiver: { url: string; server: Server };
const runIds: string[] = [];
const caseOf: Record<string, string> = {};

// 10 runs on main, one an hour, whose last two differ in every way a
// comparison lists: a new failure, a fix, a test failing in both, a removed
// and an added test, a newly flaky one (flaky every other run, which also puts
// it on the flakiest leaderboard) and a slowdown.
const RUNS = 10;
const NAMES = ['steady', 'slow', 'newfail', 'fixed', 'still', 'removed', 'added', 'flappy'];
function story(name: string, run: number): Record<string, unknown> | null {
  const last = RUNS - 1;
  const failed = (msg: string) => ({ status: 'failed', error: { message: msg, stack: `Error: ${msg}\n    at Cart.checkout (/ci/tests/pages/cart.ts:${10 + run}:5)` } });
  switch (name) {
    case 'slow': return { duration: run === last ? 2400 : 200 };
    case 'newfail': return run === last ? failed('expected 200, got 500') : {};
    case 'fixed': return run === last - 1 ? failed('expected 3 items, got 2') : {};
    case 'still': return run >= last - 1 ? failed('checkout button missing') : {};
    case 'removed': return run === last ? null : {};
    case 'added': return run === last ? {} : null;
    case 'flappy': return run % 2 === 1
      ? { status: 'passed', isFlaky: true, retries: 1, attempt: 2, attempts: [
          { attempt: 1, status: 'failed', duration: 30, error: { message: 'Timed out 3000ms waiting for #menu' } }, { attempt: 2, status: 'passed', duration: 40 }] }
      : {};
    default: return {};
  }
}

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  t = await createTenant(stack.url, 'responses');
  api = client(stack.url, { key: t.apiKey });
  admin = client(stack.url, { token: t.token });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiver = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server };
}, 120_000);

afterAll(async () => {
  await new Promise<void>((r) => (receiver ? receiver.server.close(() => r()) : r()));
  receiver?.server.closeAllConnections();
  await stack?.stop();
});

describe('documented responses', () => {
  it('every JSON route has a response schema (only GET /openapi.json stays a plain object), and this file proves the new ones', () => {
    const routes = mountedRoutes(stack.app).map((r) => `${r.method} ${r.path}`);
    const plain = routes.filter((k) => {
      const ok = ROUTE_DOCS[k]?.ok;
      return ok && !ok.schema && (ok.contentType ?? 'application/json') === 'application/json';
    });
    expect(plain).toEqual(['GET /openapi.json']);
    expect(PROVEN.filter((k) => !routes.includes(k))).toEqual([]);
  });

  it('catches a missing field, an undocumented one, and one of the wrong type, however deep', () => {
    const hook = {
      id: 'wh_1', projectId: 'proj_1', url: 'https://example.com/h', events: ['run.failed'], headers: { 'X-A': '****' }, isActive: true,
      thresholds: { passRate: 0.9, windowDays: 7 }, format: 'json', routingKey: null, disabledReason: null, createdAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z',
    };
    expect(mismatch(wh.Webhook, hook)).toBeNull();
    expect(mismatch(wh.Webhook, { ...hook, secret: 'whsec_x' })).toMatch(/undocumented fields: secret$/);
    expect(mismatch(wh.Webhook, { ...hook, thresholds: { ...hook.thresholds, extra: 1 } })).toMatch(/thresholds/);
    const { disabledReason: _gone, ...missing } = hook;
    expect(mismatch(wh.Webhook, missing)).toMatch(/disabledReason/);
    expect(mismatch(wh.Webhook, { ...hook, isActive: 'yes' })).toMatch(/isActive/);
    const list = ROUTE_DOCS['GET /api/webhooks']!.ok.schema!;
    expect(mismatch(list, { data: [hook, { ...hook, nested: { a: 1 } }], total: 2, limit: 50, offset: 0 })).toMatch(/undocumented fields: data\[1\]\.nested$/);
  });

  it('health (before anything is on the log, so that no projection lags)', async () => {
    conforms('GET /health/ready', await request(stack.url, 'GET', '/health/ready'));
    const deep = conforms('GET /health/deep', await request(stack.url, 'GET', '/health/deep'));
    filled('checks', deep.checks);
    filled('consumers', deep.consumers);
    filled('consumers[0].partitions', deep.consumers[0].partitions);
  });

  it('ingest: runs, suites, tests, finishing a run', async () => {
    const start = Date.now() - (RUNS + 1) * 3600_000;
    for (let run = 0; run < RUNS; run++) {
      const r = await api.post('/api/runs', runBody(t.projectId, { commitSha: `sha${run}`, grepPatterns: ['@smoke'] }));
      if (run === 0) conforms('POST /api/runs', r);
      expect(r.status, r.text).toBe(201);
      runIds.push(r.body.id);
      const startedAt = new Date(start + run * 3600_000).toISOString();
      let suiteId: string | undefined;
      if (run === RUNS - 1) {
        const parent = conforms('POST /api/test-suites', await api.post('/api/test-suites', { runId: r.body.id, projectId: t.projectId, title: 'Shop', filePath: 'tests/shop.spec.ts' }));
        const child = await api.post('/api/test-suites', { runId: r.body.id, projectId: t.projectId, title: 'Cart', filePath: 'tests/shop.spec.ts', parentSuiteId: parent.id });
        expect(child.status, child.text).toBe(201);
        suiteId = child.body.id;
      }
      for (const [i, name] of NAMES.entries()) {
        const extra = story(name, run);
        if (!extra) continue;
        const res = await api.post('/api/tests', testBody(t.projectId, r.body.id, i, { title: name, fullTitle: `Shop > ${name}`, filePath: 'tests/shop.spec.ts', startedAt, steps: [], duration: 100 + i, suiteId, ...extra }));
        if (run === RUNS - 1 && name === 'flappy') conforms('POST /api/tests', res);
        expect(res.status, res.text).toBe(201);
        caseOf[name] = res.body.testCaseId;
      }
      // the last run finishes without stats: the answer has the counts of its tests
      const done = await api.patch(`/api/runs/${r.body.id}`, run === RUNS - 1 ? { status: 'failed' } : { status: 'passed', duration: 60_000 });
      if (run === RUNS - 1) {
        const body = conforms('PATCH /api/runs/:id', done);
        expect(body.totalTests).toBe(NAMES.length - 1);
      }
      expect(done.status, done.text).toBe(200);
    }
    await stack.waitForProjections();
  }, 180_000);

  it('tests, suites and a quarantine by hand', async () => {
    const last = runIds.at(-1)!;
    const tests = conforms('GET /api/tests', await api.get(`/api/tests?runId=${last}&limit=100`));
    filled('tests', tests.data);
    expect(tests.data.some((x: { error: unknown }) => x.error !== null)).toBe(true);
    conforms('GET /api/tests/:id', await api.get(`/api/tests/${tests.data[0].id}`));
    const tree = conforms('GET /api/test-suites', await api.get(`/api/test-suites?runId=${last}`));
    filled('suite children', tree.data[0]?.children);
    const q = conforms('POST /api/flakiness', await api.post('/api/flakiness', {
      testId: caseOf.flappy, projectId: t.projectId, isQuarantined: true, reason: 'flaky menu', owner: 'qa', expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    }));
    expect(q).toMatchObject({ testCaseId: caseOf.flappy, owner: 'qa', mode: 'manual' });
    const score = conforms('GET /api/tests/:id/flakiness', await api.get(`/api/tests/${caseOf.flappy}/flakiness`));
    expect(score).toMatchObject({ testCaseId: caseOf.flappy, classification: 'flaky', source: 'live' });
    filled('example runs', score.evidence.exampleRunIds);
  });

  it('analytics', async () => {
    const [baseline, current] = runIds.slice(-2);
    const trends = conforms('GET /api/analytics/trends', await api.get(`/api/analytics/trends?metric=pass_rate&period=7d&testId=${caseOf.still}`));
    expect(trends.data.some((p: { value: unknown }) => p.value !== null)).toBe(true);
    const boards = conforms('GET /api/analytics/leaderboards', await api.get('/api/analytics/leaderboards?period=30d'));
    filled('slowest', boards.slowest);
    filled('failing', boards.failing);
    filled('flakiest', boards.flakiest);
    const errors = conforms('GET /api/analytics/errors', await api.get('/api/analytics/errors?period=7d'));
    filled('error clusters', errors.data);
    const c = conforms('GET /api/runs/:id/compare/:baselineId', await api.get(`/api/runs/${current}/compare/${baseline}`));
    for (const list of ['newFailures', 'fixed', 'stillFailing', 'newTests', 'removedTests', 'newlyFlaky', 'durationChanges', 'regressionReasons']) filled(list, c[list]);
    const side = conforms('GET /api/analytics/compare', await api.get(`/api/analytics/compare?runIds=${baseline},${current}`));
    filled('side-by-side tests', side.tests);
  });

  it('webhooks and schedules', async () => {
    const created = conforms('POST /api/webhooks', await api.post('/api/webhooks', {
      projectId: t.projectId, url: receiver.url, headers: { 'X-Token': 'abc' }, thresholds: { passRate: 0.9 },
    }));
    filled('webhooks', conforms('GET /api/webhooks', await api.get(`/api/webhooks?projectId=${t.projectId}`)).data);
    conforms('GET /api/webhooks/:id', await api.get(`/api/webhooks/${created.id}`));
    conforms('PATCH /api/webhooks/:id', await api.patch(`/api/webhooks/${created.id}`, { thresholds: { flakyRate: 0.2, windowDays: 14 } }));
    const sent = conforms('POST /api/webhooks/:id/test', await api.post(`/api/webhooks/${created.id}/test`));
    expect(sent).toMatchObject({ status: 'delivered', statusCode: 200, event: 'webhook.test' });

    const schedule = conforms('POST /api/schedules', await api.post('/api/schedules', { projectId: t.projectId, name: 'nightly', cron: '0 6 * * *', timezone: 'Europe/Paris' }));
    filled('schedules', conforms('GET /api/schedules', await api.get(`/api/schedules?projectId=${t.projectId}`)).data);
    conforms('GET /api/schedules/:id', await api.get(`/api/schedules/${schedule.id}`));
    conforms('PATCH /api/schedules/:id', await api.patch(`/api/schedules/${schedule.id}`, { cron: '30 6 * * 1-5' }));
    expect(conforms('POST /api/schedules/:id/pause', await api.post(`/api/schedules/${schedule.id}/pause`)).nextRunAt).toBeNull();
    conforms('POST /api/schedules/:id/resume', await api.post(`/api/schedules/${schedule.id}/resume`));
    expect(conforms('POST /api/schedules/:id/trigger', await api.post(`/api/schedules/${schedule.id}/trigger`)).deliveries).toBe(1);

    // the test delivery (delivered) and the digest's (pending: no dispatcher runs here)
    const deliveries = conforms('GET /api/webhooks/:id/deliveries', await api.get(`/api/webhooks/${created.id}/deliveries`));
    expect(deliveries.data.map((d: { status: string }) => d.status).sort()).toEqual(['delivered', 'pending']);

    conforms('DELETE /api/schedules/:id', await api.del(`/api/schedules/${schedule.id}`));
    conforms('DELETE /api/webhooks/:id', await api.del(`/api/webhooks/${created.id}`));
  });

  it('teams and joining by invitation', async () => {
    filled('teams', conforms('GET /api/teams', await admin.get('/api/teams')).data);
    conforms('PATCH /api/teams/:id', await admin.patch(`/api/teams/${t.teamId}`, { name: 'renamed team' }));
    const inv = await admin.post('/api/team-members', { teamId: t.teamId, email: 'newcomer@example.com', role: 'member' });
    expect(inv.status, inv.text).toBe(201);
    const joined = conforms('POST /api/auth/accept-invitation', await request(stack.url, 'POST', '/api/auth/accept-invitation', {
      body: { token: inv.body.token, password: 'a long and private passphrase', name: 'New Comer' },
    }));
    expect(conforms('GET /api/auth/session', await request(stack.url, 'GET', '/api/auth/session')).user).toBeNull();
    const cookie = (await request(stack.url, 'POST', '/api/auth/login', { body: { email: 'newcomer@example.com', password: 'a long and private passphrase' } }))
      .headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const mine = conforms('GET /api/auth/session', await request(stack.url, 'GET', '/api/auth/session', { headers: { cookie } }));
    expect(mine.user).toMatchObject({ id: joined.user.id, teams: [{ id: t.teamId, role: 'member' }], csrfToken: expect.any(String) });
  });

  it('called every route it proves', () => {
    expect(PROVEN.filter((k) => !checked.has(k))).toEqual([]);
  });
});
