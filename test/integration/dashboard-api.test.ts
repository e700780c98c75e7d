import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { createUser, joinTeam } from '../support/people.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { Overview } from '../../schemas/overview.ts';

// What the dashboard's pages needed from the API: the overview in one request,
// and the runs list filtered by tag and date.
let stack: TestStack;
let t: Tenant;
let other: Tenant;
let runs: { tagged: string; plain: string };
let moving: Tenant;

async function run(tenant: Tenant, extra: Record<string, unknown>, statuses: string[], testExtra: Record<string, unknown> = {}): Promise<string> {
  const api = client(stack.url, { key: tenant.apiKey });
  const made = await api.post('/api/runs', runBody(tenant.projectId, extra));
  expect(made.status, made.text).toBe(201);
  const runId = made.body.id as string;
  for (const [i, status] of statuses.entries()) {
    const res = await api.post('/api/tests', testBody(tenant.projectId, runId, i, { status, ...(status === 'flaky' ? { retries: 1, attempt: 2 } : {}), ...testExtra }));
    expect(res.status, res.text).toBe(201);
  }
  expect((await api.patch(`/api/runs/${runId}`, { status: statuses.includes('failed') ? 'failed' : 'passed' })).status).toBe(200);
  return runId;
}

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  t = await createTenant(stack.url, 'overview');
  // Another team with an owner of its own (createTenant's teams share the instance admin).
  const stranger = await createUser(stack.url, t.token, `stranger.${Date.now()}@example.com`);
  const as = client(stack.url, { token: stranger.token });
  const team = (await as.post('/api/teams', { name: 'hidden team' })).body.id as string;
  const project = (await as.post('/api/projects', { teamId: team, name: 'hidden project' })).body.id as string;
  const key = (await as.post('/api/api-keys', { projectId: project, name: 'hidden key' })).body.key as string;
  other = { token: stranger.token, teamId: team, projectId: project, apiKey: key };
  runs = {
    plain: await run(t, { tags: ['nightly'], branch: 'main' }, ['passed', 'passed', 'failed', 'flaky']),
    tagged: await run(t, { tags: ['smoke', 'login'], branch: 'feature/x' }, ['passed', 'passed', 'passed', 'passed']),
  };
  await run(other, { tags: ['smoke'] }, ['failed']);
  // Two test cases over three days, in a project of their own.
  const second = (await client(stack.url, { token: t.token }).post('/api/projects', { teamId: t.teamId, name: 'transitions' })).body.id as string;
  const secondKey = (await client(stack.url, { token: t.token }).post('/api/api-keys', { projectId: second, name: 'k' })).body.key as string;
  moving = { ...t, projectId: second, apiKey: secondKey };
  const daysAgo = (n: number) => ({ startedAt: new Date(Date.now() - n * 86_400_000).toISOString() });
  await run(moving, {}, ['passed', 'passed'], daysAgo(2));
  await run(moving, {}, ['flaky', 'failed'], daysAgo(1));
  await run(moving, {}, ['passed', 'failed'], daysAgo(0));
  await stack.waitForProjections(['postgres', 'clickhouse']);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('GET /api/overview', () => {
  it('answers my teams and projects with daily series, pass rate, flaky/failed tests and the last run', async () => {
    const res = await client(stack.url, { token: t.token }).get('/api/overview');
    expect(res.status, res.text).toBe(200);
    const body = Overview.parse(res.body);
    expect(body.days).toBe(14);
    const team = body.teams.find((x) => x.id === t.teamId)!;
    expect(team).toMatchObject({ role: 'owner', name: 'overview team' });
    const project = team.projects.find((p) => p.id === t.projectId)!;
    expect(project.daily).toHaveLength(14);
    expect(project.daily.at(-1)!.day).toBe(new Date().toISOString().slice(0, 10));
    const today = project.daily.at(-1)!;
    expect(today).toMatchObject({ runs: 2, flakyTests: 1, failedTests: 1 });
    // 6 of 8 tests passed today (a flaky test is not a pass here; the run counts say so)
    expect(today.passRate).toBe(75);
    expect(project.daily.slice(0, -1).every((d) => d.runs === 0 && d.passRate === null)).toBe(true);
    expect(project).toMatchObject({ runs: 2, passRate: 75, flaky: 0, broken: 0 });
    expect(project.lastRun).toMatchObject({ id: runs.tagged, status: 'passed', branch: 'feature/x', passRate: 100 });
    // The other team's project: not there, nor anywhere in the answer.
    expect(res.text).not.toContain(other.projectId);
    expect(res.text).not.toContain(other.teamId);
  });

  it('narrows to one team, with ?days', async () => {
    const res = await client(stack.url, { token: t.token }).get(`/api/overview?teamId=${t.teamId}&days=3`);
    expect(res.status).toBe(200);
    expect(res.body.teams.map((x: { id: string }) => x.id)).toEqual([t.teamId]);
    expect(res.body.teams[0].projects[0].daily).toHaveLength(3);
  });

  it('shows a viewer the team, and nothing of a team they are not in (404), and refuses keys (403)', async () => {
    const viewer = await createUser(stack.url, t.token, `overview.viewer.${Date.now()}@example.com`);
    await joinTeam(stack.url, t.token, t.teamId, viewer, 'viewer');
    const mine = await client(stack.url, { token: viewer.token }).get('/api/overview');
    expect(mine.body.teams.map((x: { id: string; role: string }) => [x.id, x.role])).toEqual([[t.teamId, 'viewer']]);
    const foreign = await client(stack.url, { token: viewer.token }).get(`/api/overview?teamId=${other.teamId}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
    expect((await client(stack.url, { key: t.apiKey }).get('/api/overview')).status).toBe(403);
    expect((await client(stack.url, { key: other.apiKey }).get(`/api/overview?teamId=${t.teamId}`)).status).toBe(404);
  });

  it.each([
    ['days=0'], ['days=91'], ['days=abc'], ['teamId=proj_01ARZ3NDEKTSV4RRFFQ69G5FAV'], ['teamId='],
  ])('refuses %s (400)', async (query) => {
    const res = await client(stack.url, { token: t.token }).get(`/api/overview?${query}`);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  });
});

describe('GET /api/flakiness/transitions', () => {
  const get = (query: string, as: { token?: string; key?: string } = { token: t.token }) => client(stack.url, as).get(`/api/flakiness/transitions?${query}`);
  const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

  it('counts test cases per state and the moves between states, day by day', async () => {
    const res = await get(`projectId=${moving.projectId}&period=7d&interval=day`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.buckets).toHaveLength(7);
    const at = (n: number) => res.body.buckets.find((b: { start: string }) => b.start === day(n));
    expect(at(2)).toEqual({ start: day(2), stable: 2, flaky: 0, broken: 0, transitions: [{ from: 'new', to: 'stable', count: 2 }] });
    expect(at(1)).toEqual({ start: day(1), stable: 0, flaky: 1, broken: 1, transitions: [{ from: 'stable', to: 'broken', count: 1 }, { from: 'stable', to: 'flaky', count: 1 }] });
    expect(at(0)).toEqual({ start: day(0), stable: 1, flaky: 0, broken: 1, transitions: [{ from: 'flaky', to: 'stable', count: 1 }] });
    expect(at(3)).toMatchObject({ stable: 0, flaky: 0, broken: 0, transitions: [] });
  });

  it('by week, from Mondays; a key reads its own project', async () => {
    const res = await get(`period=30d`, { key: moving.apiKey });
    expect(res.status, res.text).toBe(200);
    expect(res.body.interval).toBe('week');
    expect(res.body.buckets.every((b: { start: string }) => new Date(`${b.start}T00:00:00Z`).getUTCDay() === 1)).toBe(true);
    const total = res.body.buckets.reduce((n: number, b: { transitions: Array<{ from: string; count: number }> }) => n + b.transitions.filter((x) => x.from === 'new').reduce((a, x) => a + x.count, 0), 0);
    expect(total).toBe(2);
  });

  it('answers another team\'s project 404, and refuses bad input (400)', async () => {
    expect((await get(`projectId=${other.projectId}`)).status).toBe(404);
    expect((await get(`projectId=${moving.projectId}`, { key: other.apiKey })).status).toBe(404);
    for (const query of ['period=2d', 'interval=month', 'projectId=nope', `branch=${'b'.repeat(501)}`]) {
      const res = await get(`projectId=${moving.projectId}&${query}`.replace(`projectId=${moving.projectId}&projectId=nope`, 'projectId=nope'));
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
  });
});

describe('GET /api/runs filters', () => {
  const list = (query: string) => client(stack.url, { token: t.token }).get(`/api/runs?projectId=${t.projectId}&${query}`);
  const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((r) => r.id);

  it('by tag, branch and status', async () => {
    expect(ids(await list('tag=smoke'))).toEqual([runs.tagged]);
    expect(ids(await list('tag=nightly'))).toEqual([runs.plain]);
    expect(ids(await list('tag=nope'))).toEqual([]);
    expect(ids(await list('tag=smoke&branch=main'))).toEqual([]);
    expect(ids(await list('status=failed'))).toEqual([runs.plain]);
  });

  it('by creation time: from inclusive, to exclusive', async () => {
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const inAnHour = new Date(Date.now() + 3600_000).toISOString();
    const all = await list(`from=${hourAgo}&to=${inAnHour}`);
    expect(all.body.total).toBe(2);
    expect((await list(`to=${hourAgo}`)).body.total).toBe(0);
    expect((await list(`from=${inAnHour}`)).body.total).toBe(0);
  });

  it.each([['from=yesterday'], ['to=2026-13-01T00:00:00Z'], ['from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z'], ['tag='], [`tag=${'x'.repeat(201)}`]])('refuses %s (400)', async (query) => {
    const res = await list(query);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  });

  it('filters only within a project the caller may read', async () => {
    const res = await client(stack.url, { token: t.token }).get(`/api/runs?projectId=${other.projectId}&tag=smoke`);
    expect(res.status).toBe(404);
  });
});

describe('GET /api/runs items name the run', () => {
  it('with its title, commit message and CI build', async () => {
    const res = await client(stack.url, { token: t.token }).get(`/api/runs?projectId=${t.projectId}`);
    expect(res.status).toBe(200);
    for (const r of res.body.data) expect(r).toMatchObject({ runTitle: 'Nightly', commitMessage: 'Add login flow tests', ciBuildId: expect.stringMatching(/^build-/) });
  });
});

describe('GET /api/tests for a run (the run page)', () => {
  const as = (token: string) => client(stack.url, { token });

  it('needs only runId from a user, and answers up to 5,000 results at once', async () => {
    const res = await as(t.token).get(`/api/tests?runId=${runs.plain}&limit=5000`);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ total: 4, limit: 5000, offset: 0 });
    expect(res.body.data.map((x: { runId: string }) => x.runId)).toEqual([runs.plain, runs.plain, runs.plain, runs.plain]);
    // a key of the run's project, too; with projectId as before
    expect((await client(stack.url, { key: t.apiKey }).get(`/api/tests?runId=${runs.plain}&limit=5000`)).body.total).toBe(4);
    expect((await as(t.token).get(`/api/tests?projectId=${t.projectId}&runId=${runs.plain}&limit=2`)).body.data).toHaveLength(2);
  });

  it("answers another team's run 404, by a user or a key, with or without projectId", async () => {
    const theirs = (await client(stack.url, { key: other.apiKey }).get('/api/runs')).body.data[0].id as string;
    for (const res of [
      await as(t.token).get(`/api/tests?runId=${theirs}`),
      await client(stack.url, { key: t.apiKey }).get(`/api/tests?runId=${theirs}`),
      await as(t.token).get(`/api/tests?projectId=${t.projectId}&runId=${theirs}`),
      await as(other.token).get(`/api/tests?runId=${runs.plain}&limit=5000`),
    ]) {
      expect(res.status, res.text).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect(res.text).not.toContain(other.projectId);
      expect(res.text).not.toContain(t.projectId);
    }
    expect((await as(t.token).get(`/api/tests?runId=run_${'0'.repeat(26)}`)).status).toBe(404);
  });

  it.each([
    ['limit=501 without runId', () => `projectId=${t.projectId}&limit=501`],
    ['limit=5001 with runId', () => `runId=${runs.plain}&limit=5001`],
    ['limit=0 with runId', () => `runId=${runs.plain}&limit=0`],
    ['limit=abc with runId', () => `runId=${runs.plain}&limit=abc`],
    ['limit given twice with runId', () => `runId=${runs.plain}&limit=1&limit=2`],
  ])('refuses %s (400, field limit)', async (_, query) => {
    const res = await as(t.token).get(`/api/tests?${query()}`);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { field: 'limit' } });
  });

  it('still needs projectId from a user without runId (400)', async () => {
    const res = await as(t.token).get('/api/tests');
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe('projectId');
  });
});
