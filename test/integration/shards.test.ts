import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';

// Shards of one CI build (same project + ciBuildId, with shardTotal) merge into
// one run, which finishes when every shard did; counts add up.
describe('sharded runs', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    tenant = await createTenant(stack.url, 'shards');
    api = client(stack.url, { key: tenant.apiKey });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const shard = (ciBuildId: string, shardCurrent: number | undefined, shardTotal = 3) =>
    api.post('/api/runs', runBody(tenant.projectId, { ciBuildId, shardTotal, ...(shardCurrent ? { shardCurrent } : {}) }));

  it('maps every shard to one run, finishes it when the last shard did, and counts every shard', async () => {
    const created = await Promise.all([1, 2, 3].map((n) => shard('build-merge', n)));
    expect(created.map((r) => r.status)).toEqual([201, 201, 201]);
    const runId = created[0]!.body.id;
    expect(created.map((r) => r.body.id)).toEqual([runId, runId, runId]);
    expect(new Set(created.map((r) => r.body.createdAt)).size).toBe(1);

    for (const n of [1, 2, 3]) {
      for (let i = 0; i < 4; i++) {
        const status = n === 2 && i === 0 ? 'failed' : 'passed';
        expect((await api.post('/api/tests', testBody(tenant.projectId, runId, n * 10 + i, { status }))).status).toBe(201);
      }
    }
    const first = await api.patch(`/api/runs/${runId}`, { status: 'passed', shardCurrent: 1 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'running', shard: { current: 1, total: 3, finished: 1 } });
    const second = await api.patch(`/api/runs/${runId}`, { status: 'failed', shardCurrent: 2 });
    expect(second.body).toMatchObject({ status: 'running', shard: { finished: 2 } });
    const midway = await api.get(`/api/runs/${runId}`, { 'x-runledger-position': second.headers.get('x-runledger-position')! });
    expect(midway.body.status).toBe('running');

    const last = await api.patch(`/api/runs/${runId}`, { status: 'passed', shardCurrent: 3 });
    // Finished without stats: counted from the run's tests, across shards.
    expect(last.body).toMatchObject({ id: runId, status: 'failed', totalTests: 12, passedTests: 11, failedTests: 1, shard: { finished: 3 } });
    const run = await api.get(`/api/runs/${runId}`, { 'x-runledger-position': last.headers.get('x-runledger-position')! });
    expect(run.body).toMatchObject({ status: 'failed', totalTests: 12, failedTests: 1 });
    expect((await api.get(`/api/runs?projectId=${tenant.projectId}`)).body.data.filter((r: { id: string }) => r.id === runId)).toHaveLength(1);
  });

  it('sums the stats the shards reported', async () => {
    const runId = (await shard('build-stats', 1, 2)).body.id;
    expect((await shard('build-stats', 2, 2)).body.id).toBe(runId);
    await api.patch(`/api/runs/${runId}`, { status: 'passed', shardCurrent: 1, totalTests: 10, passedTests: 9, failedTests: 0, skippedTests: 1, flakyTests: 0, duration: 5000 });
    const done = await api.patch(`/api/runs/${runId}`, { status: 'passed', shardCurrent: 2, totalTests: 20, passedTests: 18, failedTests: 0, skippedTests: 0, flakyTests: 2, duration: 7000 });
    expect(done.body).toMatchObject({ status: 'passed', totalTests: 30, passedTests: 27, skippedTests: 1, flakyTests: 2, duration: 7000 });
    const run = await api.get(`/api/runs/${runId}`, { 'x-runledger-position': done.headers.get('x-runledger-position')! });
    expect(run.body).toMatchObject({ status: 'passed', totalTests: 30, passedTests: 27, flakyTests: 2, duration: 7000 });
  });

  it('gives shards created at the same moment one run id', async () => {
    const created = await Promise.all(Array.from({ length: 8 }, (_, i) => shard('build-race', i + 1, 8)));
    expect(created.every((r) => r.status === 201)).toBe(true);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
  });

  it('counts finishes without shardCurrent one shard each', async () => {
    const runId = (await shard('build-anon', undefined, 2)).body.id;
    await shard('build-anon', undefined, 2);
    expect((await api.patch(`/api/runs/${runId}`, { status: 'passed' })).body.status).toBe('running');
    expect((await api.patch(`/api/runs/${runId}`, { status: 'passed' })).body.status).toBe('passed');
  });

  it('keeps builds of different projects, and unsharded runs of one build, apart', async () => {
    const other = await createTenant(stack.url, 'other shards');
    const mine = (await shard('build-shared', 1, 2)).body.id;
    const theirs = (await client(stack.url, { key: other.apiKey }).post('/api/runs', runBody(other.projectId, { ciBuildId: 'build-shared', shardTotal: 2, shardCurrent: 1 }))).body.id;
    expect(theirs).not.toBe(mine);
    const single = [await api.post('/api/runs', runBody(tenant.projectId, { ciBuildId: 'build-single' })), await api.post('/api/runs', runBody(tenant.projectId, { ciBuildId: 'build-single' }))];
    expect(single[0]!.body.id).not.toBe(single[1]!.body.id);
  });

  it("keeps a shard's stats-only report to the shard, and refuses shards of a deleted merged run", async () => {
    const runId = (await shard('build-stats-only', 1, 2)).body.id;
    await shard('build-stats-only', 2, 2);
    const partial = await api.patch(`/api/runs/${runId}`, { shardCurrent: 1, totalTests: 5, passedTests: 5 });
    expect(partial.body).toMatchObject({ status: 'running', totalTests: null, shard: { current: 1, status: 'running', finished: 0 } });
    await api.patch(`/api/runs/${runId}`, { shardCurrent: 1, status: 'passed', failedTests: 0, skippedTests: 0, flakyTests: 0 });
    const done = await api.patch(`/api/runs/${runId}`, { shardCurrent: 2, status: 'passed', totalTests: 3, passedTests: 3, failedTests: 0, skippedTests: 0, flakyTests: 0 });
    expect(done.body).toMatchObject({ status: 'passed', totalTests: 8, passedTests: 8 });

    expect((await api.del(`/api/runs/${runId}`)).status).toBe(200);
    const again = await shard('build-stats-only', 1, 2);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });
});
