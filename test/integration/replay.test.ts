import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { runEvents } from '../support/events.ts';
import { EventLog } from '../../lib/event-log.ts';
import { makeEvent } from '../../domain/events.ts';
import { groupIdOf } from '../../lib/consumer-groups.ts';
import { snapshot } from '../support/snapshot.ts';
import { resetClickHouseFacts, resetPostgresReadModels, rewindConsumerGroup, waitForMutations } from '../../projections/reset.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';

// Every read model is a function of the log: drop them all, replay the topic
// from the beginning, and the result is equal, row for row.
describe('dropping the read models and replaying the log', () => {
  let stack: TestStack;
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    const tenant = await createTenant(stack.url);
    const api = client(stack.url, { key: tenant.apiKey });
    // Through the HTTP API: runs on two branches, suites, tests of every status, a PATCH with stats.
    for (const branch of ['main', 'feature/x']) {
      const run = (await api.post('/api/runs', runBody(tenant.projectId, { branch }))).body;
      const suite = (await api.post('/api/test-suites', { runId: run.id, projectId: tenant.projectId, title: 'S', filePath: 'a.spec.ts' })).body;
      for (const [i, status] of ['passed', 'failed', 'skipped', 'flaky', 'timedOut', 'interrupted', 'passed'].entries()) {
        expect((await api.post('/api/tests', testBody(tenant.projectId, run.id, i, { status, suiteId: suite.id }))).status).toBe(201);
      }
      await api.patch(`/api/runs/${run.id}`, { status: 'failed', totalTests: 7, duration: 1234 });
    }
    // A project with data, deleted: its tombstone is a read model too.
    const gone = await createTenant(stack.url, 'gone');
    const goneApi = client(stack.url, { key: gone.apiKey });
    const goneRun = (await goneApi.post('/api/runs', runBody(gone.projectId))).body;
    expect((await goneApi.post('/api/tests', testBody(gone.projectId, goneRun.id, 0))).status).toBe(201);
    expect((await client(stack.url, { token: gone.token }).del(`/api/projects/${gone.projectId}`)).status).toBe(200);
    // Straight onto the log: more runs, a deleted run, and every example event.
    const log = new EventLog(stack.kafka, stack.config.topic, 10_000);
    const more = [runEvents(tenant.projectId, { tests: 300, branch: 'main' }), runEvents(tenant.projectId, { tests: 50 })];
    await log.append(more.flatMap((r) => r.events));
    const doomed = more[1]!;
    const at = new Date().toISOString();
    await log.append([makeEvent('run.deleted', { projectId: tenant.projectId, runId: doomed.runId, actor: { type: 'system', id: 't' }, correlationId: null, now: at, data: { id: doomed.runId, deletedAt: at } })]);
    // (the example deletions would remove the example run's artifact; run deletion is covered
    // above, project deletion and its replay in access-projects.test.ts)
    await log.append(Object.values(EXAMPLE_EVENTS).filter((e) => e.type !== 'run.deleted' && e.type !== 'project.deleted'));
    await log.close();
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
    before = await snapshot(stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('has something in every table to compare', () => {
    for (const [table, rows] of Object.entries({ ...before.pg, ...before.ch })) expect(rows.length, table).toBeGreaterThan(0);
    expect(before.pg.runs!.length).toBe(4); // 2 over HTTP, 1 generated (the other was deleted), the example
  });

  it('rebuilds Postgres and ClickHouse equal to before', async () => {
    await stack.stopProjection('postgres');
    await stack.stopProjection('clickhouse');
    await resetPostgresReadModels(stack.pool);
    await resetClickHouseFacts(stack.ch);
    expect((await stack.pool.query('SELECT count(*)::int AS n FROM tests')).rows[0].n).toBe(0);
    for (const name of ['postgres', 'clickhouse'] as const) await rewindConsumerGroup(stack.kafka, groupIdOf(stack.config, name), stack.config.topic);

    await stack.startProjection('postgres');
    await stack.startProjection('clickhouse');
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
    const after = await snapshot(stack);
    expect(after.pg).toEqual(before.pg);
    expect(after.ch).toEqual(before.ch);
  });
});
