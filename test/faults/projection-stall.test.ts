import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, request, type Res } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { killHard, spawnProjector, type Projector } from '../support/processes.ts';
import { sleep } from '../support/faults.ts';
import type { ConsumerHealth } from '../../lib/projection-health.ts';
import { PROJECTION_NAMES } from '../../lib/consumer-groups.ts';

// The bound of the test: an event that waited this long with no commit of its partition is a stall.
const BOUND_MS = 3000;

type Deep = { status: string; checks: { name: string; status: string }[]; consumers: ConsumerHealth[] };
const consumer = (r: Res<Deep>, name: string) => r.body.consumers.find((c) => c.projection === name)!;

// A ClickHouse projector whose process is alive but cannot make progress: its
// offsets table is renamed away, so every attempt of the batch fails on the
// insert of its position (an infrastructure failure: retried, never skipped).
// ClickHouse itself answers, so nothing but the stall can make /health/deep 503.
describe('a projection that cannot make progress', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let runId: string;
  let projector: Projector;
  let sent = 0;
  const deep = () => request<Deep>(stack.url, 'GET', '/health/deep');
  const ingest = async () => {
    const r = await client(stack.url, { key: tenant.apiKey }).post('/api/tests', testBody(tenant.projectId, runId, sent++));
    expect(r.status).toBe(201);
  };
  const until = async (what: string, ok: (r: Res<Deep>) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = await deep();
      if (ok(r)) return r;
      projector.assertAlive();
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(r.body.consumers.map((c) => [c.projection, c.status, c.reason, c.lag]))}`);
      await sleep(100);
    }
  };
  const scrape = async () => (await request(stack.url, 'GET', '/metrics')).text;
  const metric = (text: string, name: string) => Number(new RegExp(`^${name}\\{projection="clickhouse"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

  beforeAll(async () => {
    const fast = { heartbeatIntervalMs: 200, heartbeatStaleMs: BOUND_MS, stallAfterMs: BOUND_MS };
    stack = await startTestStack({ overrides: fast });
    const env = { ...stack.env, RUNLEDGER_HEARTBEAT_INTERVAL_MS: '200', RUNLEDGER_HEARTBEAT_STALE_MS: String(BOUND_MS), RUNLEDGER_STALL_AFTER_MS: String(BOUND_MS) };
    tenant = await createTenant(stack.url, 'stall');
    const run = await client(stack.url, { key: tenant.apiKey }).post('/api/runs', runBody(tenant.projectId));
    runId = run.body.id;
    for (let i = 0; i < 3; i++) await ingest();
    // The projection under test as its own process; every other one in this process (for a 200, all must be healthy).
    projector = spawnProjector('clickhouse', env);
    for (const name of PROJECTION_NAMES) if (name !== 'clickhouse') await stack.startProjection(name);
    await until('every projection caught up', (r) => r.status === 200 && r.body.consumers.every((c) => c.lag === 0 && c.alive), 60_000);
  }, 120_000);

  afterAll(async () => {
    if (projector) await killHard(projector);
    await stack?.ch.command('RENAME TABLE projection_offsets_v1_away TO projection_offsets_v1').catch(() => undefined);
    await stack?.stop();
  });

  it('is stalled with 503 once an event waited the bound, with its process alive, its last error and retry count; ok again after recovery', async () => {
    // A quiet period longer than the bound first: a new event must not look like a stall the moment it arrives.
    await sleep(BOUND_MS + 500);
    await stack.ch.command('RENAME TABLE projection_offsets_v1 TO projection_offsets_v1_away');
    const appended = Date.now();
    await ingest();
    const early = await deep();
    if (Date.now() - appended < BOUND_MS) expect(consumer(early, 'clickhouse').status).toBe('ok');

    const stalled = await until('clickhouse stalled', (r) => consumer(r, 'clickhouse').status === 'stalled', 30_000);
    expect(Date.now() - appended).toBeGreaterThanOrEqual(BOUND_MS);
    expect(stalled.status).toBe(503);
    expect(stalled.body.status).toBe('unhealthy');
    // ClickHouse answers: the 503 is the stall alone.
    expect(stalled.body.checks.every((c) => c.status === 'ok')).toBe(true);
    const ch = consumer(stalled, 'clickhouse');
    expect(ch).toMatchObject({ alive: true, liveInstances: 1 });
    expect(ch.lag).toBeGreaterThan(0);
    expect(ch.reason).toMatch(/waited over 3000 ms/);
    expect(ch.partitions.filter((p) => p.stalled).length).toBe(1);

    // The error and how often the batch was retried, once the projector wrote them.
    const failing = await until('the error and a retry', (r) => (consumer(r, 'clickhouse').lastError?.retries ?? 0) >= 2, 30_000);
    const { lastError, batchFailures, partitions } = consumer(failing, 'clickhouse');
    expect(lastError!.message).toMatch(/projection_offsets_v1/);
    expect(Date.parse(lastError!.at)).toBeGreaterThanOrEqual(appended - 1000);
    expect(partitions.find((p) => p.partition === lastError!.partition)!.retries).toBe(lastError!.retries);
    expect(batchFailures).toBeGreaterThanOrEqual(lastError!.retries);

    const metrics = await scrape();
    expect(metric(metrics, 'runledger_projection_batch_failures_total')).toBeGreaterThanOrEqual(2);
    expect(metric(metrics, 'runledger_projection_batch_retries')).toBeGreaterThanOrEqual(2);
    expect(metric(metrics, 'runledger_projection_seconds_since_last_commit')).toBeGreaterThanOrEqual(BOUND_MS / 1000);

    // Recovery: the table is back, the retried batch commits, and the projection is ok with nothing lost.
    await stack.ch.command('RENAME TABLE projection_offsets_v1_away TO projection_offsets_v1');
    // Positions (lag) and the retry count are written by different stores: wait for both.
    const healthy = await until(
      'healthy again, retries reset',
      (r) => r.status === 200 && consumer(r, 'clickhouse').lag === 0 && consumer(r, 'clickhouse').partitions.every((p) => p.retries === 0),
      60_000,
    );
    const after = consumer(healthy, 'clickhouse');
    expect(after).toMatchObject({ status: 'ok', reason: null, alive: true });
    expect(after.partitions.every((p) => !p.stalled)).toBe(true);
    // The error stays visible after recovery, with when it happened.
    expect(after.lastError!.message).toMatch(/projection_offsets_v1/);
    const [facts] = await stack.ch.select<{ n: string; ids: string }>('SELECT toString(count()) AS n, toString(uniqExact(test_id)) AS ids FROM test_results_v1');
    expect(facts).toEqual({ n: String(sent), ids: String(sent) });
    const recovered = await scrape();
    expect(metric(recovered, 'runledger_projection_batch_retries')).toBe(0);
    expect(metric(recovered, 'runledger_projection_seconds_since_last_commit')).toBeLessThan(BOUND_MS / 1000 + 5);
  }, 120_000);
});
