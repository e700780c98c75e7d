import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { runEvents } from '../support/events.ts';
import { startInstance } from '../support/instances.ts';
import { createUser, joinTeam } from '../support/people.ts';
import { adminToken } from '../support/tenants.ts';
import { EventLog } from '../../lib/event-log.ts';
import { sql } from '../../lib/clickhouse.ts';
import { groupIdOf } from '../../lib/consumer-groups.ts';
import { POSTGRES_READ_MODELS } from '../../projections/postgres/read-models.ts';
import { CLICKHOUSE_FACT_TABLES } from '../../projections/clickhouse/projector.ts';
import { CLICKHOUSE_DERIVED_TABLES } from '../../projections/clickhouse/tables/derived.ts';
import { resetClickHouseFacts, resetPostgresReadModels, rewindConsumerGroup, waitForMutations } from '../../projections/reset.ts';
import { Project, ProjectSettings } from '../../schemas/accounts.ts';

// Projects and their settings; deleting a project removes its rows from
// Postgres at once and its data from every projection through the log, for
// good: late events and replays do not bring it back.
let stack: TestStack;
let t: Tenant;
let owner: ReturnType<typeof client>;

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  t = await createTenant(stack.url, 'projects');
  owner = client(stack.url, { token: t.token });
});

afterAll(async () => {
  await stack?.stop();
});

describe('projects', () => {
  it('are created in a team, listed by team, read and renamed', async () => {
    const created = await owner.post('/api/projects', { teamId: t.teamId, name: 'Mobile App E2E' });
    expect(created.status).toBe(201);
    const p = Project.parse(created.body);
    const list = await owner.get(`/api/projects?teamId=${t.teamId}`);
    expect(list.body.data.map((x: { id: string }) => x.id)).toEqual([t.projectId, p.id]);
    expect(list.body).toMatchObject({ total: 2, limit: 50, offset: 0 });
    expect((await owner.get(`/api/projects/${p.id}`)).body).toEqual(p);
    const renamed = await owner.patch(`/api/projects/${p.id}`, { name: 'Mobile (Production)' });
    expect(renamed.body).toMatchObject({ id: p.id, name: 'Mobile (Production)', teamId: t.teamId });
    expect(Date.parse(renamed.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(p.updatedAt));
  });

  it('are listed to an API key as its own project only', async () => {
    await owner.post('/api/projects', { teamId: t.teamId, name: 'sibling' });
    const res = await client(stack.url, { key: t.apiKey }).get('/api/projects');
    expect(res.body.data.map((x: { id: string }) => x.id)).toEqual([t.projectId]);
    expect((await client(stack.url, { key: t.apiKey }).get(`/api/projects?teamId=${t.teamId}`)).body.total).toBe(1);
  });
});

describe('settings', () => {
  it('has the defaults for a project that never changed them', async () => {
    const p = (await owner.post('/api/projects', { teamId: t.teamId, name: 'defaults' })).body;
    const res = await owner.get(`/api/projects/${p.id}/settings`);
    expect(ProjectSettings.parse(res.body)).toEqual({
      projectId: p.id, dataRetentionDays: 90, flakinessThreshold: 0.3, autoQuarantineEnabled: false, updatedAt: p.createdAt,
    });
    expect((await stack.pool.query('SELECT count(*)::int AS n FROM project_settings WHERE project_id = $1', [p.id])).rows[0].n).toBe(0);
  });

  it('changes only the fields given, and reads back what it stored', async () => {
    const p = (await owner.post('/api/projects', { teamId: t.teamId, name: 'tuned' })).body;
    const first = await owner.patch(`/api/projects/${p.id}/settings`, { dataRetentionDays: 180 });
    expect(first.body).toMatchObject({ dataRetentionDays: 180, flakinessThreshold: 0.3, autoQuarantineEnabled: false });
    const second = await owner.patch(`/api/projects/${p.id}/settings`, { flakinessThreshold: 0.5, autoQuarantineEnabled: true });
    expect(second.body).toMatchObject({ dataRetentionDays: 180, flakinessThreshold: 0.5, autoQuarantineEnabled: true });
    expect((await owner.get(`/api/projects/${p.id}/settings`)).body).toEqual(second.body);
    const row = (await stack.pool.query('SELECT * FROM project_settings WHERE project_id = $1', [p.id])).rows[0];
    expect(row).toMatchObject({ data_retention_days: 180, flakiness_threshold: 0.5, auto_quarantine_enabled: true, settings: {} });
  });

  it('accepts the ends of each range', async () => {
    for (const body of [{ dataRetentionDays: 1 }, { dataRetentionDays: 3650 }, { flakinessThreshold: 0 }, { flakinessThreshold: 1 }]) {
      expect((await owner.patch(`/api/projects/${t.projectId}/settings`, body)).status, JSON.stringify(body)).toBe(200);
    }
  });

  it('is read by viewers and changed only by admins', async () => {
    const root = await adminToken(stack.url);
    const viewer = await createUser(stack.url, root, `viewer.${Date.now()}@example.com`);
    await joinTeam(stack.url, t.token, t.teamId, viewer, 'viewer');
    const v = client(stack.url, { token: viewer.token });
    expect((await v.get(`/api/projects/${t.projectId}/settings`)).status).toBe(200);
    expect((await v.patch(`/api/projects/${t.projectId}/settings`, { dataRetentionDays: 7 })).body.error)
      .toMatchObject({ code: 'insufficient_scope', details: { required: 'admin' } });
  });
});

describe('deleting a project', () => {
  const count = async (table: string, projectId: string) =>
    (await stack.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE project_id = $1`, [projectId])).rows[0].n as number;
  const chCount = async (table: string, projectId: string) =>
    Number((await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM ${table} WHERE project_id = ${sql.str(projectId)}`))[0]!.n);
  const pgData = (projectId: string) => Promise.all(['runs', 'tests', 'suites', 'test_cases'].map((x) => count(x, projectId)));
  // Rows of the facts, then whether the tables their views fill have any (1) or
  // none (0): an aggregate's row count changes as ClickHouse merges parts.
  const CH_TABLES = [...CLICKHOUSE_FACT_TABLES, ...CLICKHOUSE_DERIVED_TABLES];
  const chData = async (projectId: string) => (await Promise.all(CH_TABLES.map((x) => chCount(x, projectId))))
    .map((n, i) => (i < CLICKHOUSE_FACT_TABLES.length ? n : Math.sign(n)));
  const NO_CH_DATA = CH_TABLES.map(() => 0);

  async function populated(name: string) {
    const tenant = await createTenant(stack.url, name);
    const api = client(stack.url, { key: tenant.apiKey });
    for (let r = 0; r < 2; r++) {
      const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
      await api.post('/api/test-suites', { runId: run.id, projectId: tenant.projectId, title: 'S', filePath: 'a.spec.ts' });
      for (let i = 0; i < 3; i++) expect((await api.post('/api/tests', testBody(tenant.projectId, run.id, i))).status).toBe(201);
      await api.patch(`/api/runs/${run.id}`, { status: 'passed' });
    }
    await client(stack.url, { token: tenant.token }).patch(`/api/projects/${tenant.projectId}/settings`, { dataRetentionDays: 30 });
    return tenant;
  }

  it('is for owners only', async () => {
    const root = await adminToken(stack.url);
    const adm = await createUser(stack.url, root, `admin.${Date.now()}@example.com`);
    await joinTeam(stack.url, t.token, t.teamId, adm, 'admin');
    const res = await client(stack.url, { token: adm.token }).del(`/api/projects/${t.projectId}`);
    expect(res.body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'owner' } });
  });

  it('removes its rows at once and its data in Postgres and ClickHouse through the log, and nothing else', async () => {
    const doomed = await populated('doomed');
    const kept = await populated('kept');
    await stack.waitForProjections();
    expect(await pgData(doomed.projectId)).toEqual([2, 6, 2, 3]);
    // results, run events, no errors (every test passed), and each derived table
    expect(await chData(doomed.projectId)).toEqual([6, 4, 0, ...CLICKHOUSE_DERIVED_TABLES.map(() => 1)]);
    const keptBefore = [await pgData(kept.projectId), await chData(kept.projectId)];

    const end = await stack.topicEnd();
    const res = await client(stack.url, { token: doomed.token }).del(`/api/projects/${doomed.projectId}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: 'Project deleted successfully' });
    expect(await stack.topicEnd()).toBe(end + 1); // one project.deleted
    // management rows: gone with the response
    for (const table of ['api_keys', 'project_settings', 'ingest_runs']) expect(await count(table, doomed.projectId), table).toBe(0);
    expect((await client(stack.url, { key: doomed.apiKey }).get('/api/runs')).status).toBe(401);
    expect((await client(stack.url, { token: doomed.token }).get(`/api/projects/${doomed.projectId}`)).status).toBe(404);
    // data: gone once the projections applied the event
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
    expect(await pgData(doomed.projectId)).toEqual([0, 0, 0, 0]);
    expect((await stack.pool.query('SELECT count(*)::int AS n FROM test_steps s JOIN tests t ON t.id = s.test_id WHERE t.project_id = $1', [doomed.projectId])).rows[0].n).toBe(0);
    expect(await chData(doomed.projectId)).toEqual(NO_CH_DATA);
    expect([await pgData(kept.projectId), await chData(kept.projectId)]).toEqual(keptBefore);

    // a late event of the project (one in flight when it was deleted) changes nothing
    const log = new EventLog(stack.kafka, stack.config.topic, 10_000);
    await log.append(runEvents(doomed.projectId, { tests: 5 }).events);
    await log.close();
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
    expect(await pgData(doomed.projectId)).toEqual([0, 0, 0, 0]);
    expect(await chData(doomed.projectId)).toEqual(NO_CH_DATA);

    // and a replay of the whole log, in whatever order partitions interleave, does not bring it back
    for (const name of ['postgres', 'clickhouse'] as const) await stack.stopProjection(name);
    await resetPostgresReadModels(stack.pool);
    await resetClickHouseFacts(stack.ch);
    for (const name of ['postgres', 'clickhouse'] as const) await rewindConsumerGroup(stack.kafka, groupIdOf(stack.config, name), stack.config.topic);
    for (const name of ['postgres', 'clickhouse'] as const) await stack.startProjection(name);
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
    expect(await pgData(doomed.projectId)).toEqual([0, 0, 0, 0]);
    expect(await chData(doomed.projectId)).toEqual(NO_CH_DATA);
    expect([await pgData(kept.projectId), await chData(kept.projectId)]).toEqual(keptBefore);
    expect(POSTGRES_READ_MODELS).toContain('project_tombstones');
  });

  it('deletes nothing and answers 503 when the log cannot be reached', async () => {
    const tenant = await createTenant(stack.url, 'unreachable');
    const dead = await startInstance(stack, { kafkaBrokers: ['127.0.0.1:1'], kafkaTimeoutMs: 2000 });
    try {
      const res = await client(dead.url, { token: tenant.token }).del(`/api/projects/${tenant.projectId}`);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
      expect(res.headers.get('retry-after')).toBe('5');
    } finally {
      await dead.close();
    }
    expect((await client(stack.url, { token: tenant.token }).get(`/api/projects/${tenant.projectId}`)).status).toBe(200);
    expect((await client(stack.url, { key: tenant.apiKey }).get('/api/runs')).status).toBe(200);
  });
});
