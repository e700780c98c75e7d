import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionPositions, startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { request } from '../support/http.ts';
import { killHard, spawnProjector, type Projector } from '../support/processes.ts';
import { sleep, startIngestLoad, type IngestLoad } from '../support/faults.ts';
import { newClickHouse, startClickHouse, stopClickHouse, type ClickHouseServer } from '../support/services.ts';
import { waitForMutations } from '../../projections/reset.ts';

// A minute by default: longer than kafkajs's retries of one batch (about 59 s),
// so the projector's consumer also goes through its crash-and-restart path.
const OUTAGE_MS = Number(process.env.RUNLEDGER_FAULT_OUTAGE_MS ?? 60_000);

type Deep = { status: string; checks: Array<{ name: string; status: string }> };

// ClickHouse stopped for a minute while clients ingest and both projectors run
// as processes: ingest and the Postgres projection carry on, the ClickHouse
// projector waits and retries, its lag grows, and once ClickHouse is back it
// catches up with every acknowledged result exactly once.
describe('ClickHouse stopped for a minute under load', () => {
  let dir: string;
  let server: ClickHouseServer;
  let stack: TestStack;
  let load: IngestLoad;
  const projectors: Projector[] = [];
  const seen = { acksDuringOutage: 0, pgAdvanced: 0, chLagAtRestart: 0, deep: null as Deep | null, deepStatus: 0 };

  const applied = async (name: 'postgres' | 'clickhouse') => [...(await projectionPositions(stack, name)).values()].reduce((a, o) => a + o + 1, 0);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rl-fault-ch-'));
    server = await newClickHouse(join(dir, 'clickhouse'));
    stack = await startTestStack({ services: { RUNLEDGER_CLICKHOUSE_URL: server.url } });
    const tenant = await createTenant(stack.url, 'ch-outage');
    for (const name of ['postgres', 'clickhouse'] as const) projectors.push(spawnProjector(name, stack.env));
    load = startIngestLoad(stack.url, tenant, { testsPerBatch: 50, pauseMs: 200 });
    const warm = Date.now() + 60_000;
    while ((await applied('clickhouse')) === 0 && Date.now() < warm) await sleep(200);

    await stopClickHouse(server);
    const acksBefore = load.acknowledged.size;
    const pgBefore = await applied('postgres');
    const until = Date.now() + OUTAGE_MS;
    while (Date.now() < until) {
      for (const p of projectors) p.assertAlive();
      await sleep(1000);
    }
    const deep = await request<Deep>(stack.url, 'GET', '/health/deep');
    seen.deep = deep.body;
    seen.deepStatus = deep.status;
    seen.acksDuringOutage = load.acknowledged.size - acksBefore;
    seen.pgAdvanced = (await applied('postgres')) - pgBefore;

    await startClickHouse(server);
    seen.chLagAtRestart = (await stack.topicEnd()) - (await applied('clickhouse'));
    await sleep(3000);
    await load.stop();
    const end = await stack.topicEnd();
    const deadline = Date.now() + 180_000;
    while (((await applied('clickhouse')) < end || (await applied('postgres')) < end) && Date.now() < deadline) {
      for (const p of projectors) p.assertAlive();
      await sleep(250);
    }
    await waitForMutations(stack.ch);
  }, 600_000);

  afterAll(async () => {
    await load?.stop();
    for (const p of projectors) await killHard(p);
    await stack?.stop();
    if (server) await stopClickHouse(server).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kept acknowledging ingest and projecting into Postgres while ClickHouse was down', () => {
    expect(seen.acksDuringOutage).toBeGreaterThan(0);
    expect(seen.pgAdvanced).toBeGreaterThan(0);
    expect(load.failures, JSON.stringify(load.failures.slice(0, 5))).toEqual([]);
  });

  it('reported ClickHouse down on /health/deep, and the ClickHouse projector behind', () => {
    expect(seen.deepStatus).toBe(503);
    expect(seen.deep!.checks.find((c) => c.name === 'clickhouse')!.status).not.toBe('ok');
    expect(seen.deep!.checks.find((c) => c.name === 'postgres')!.status).toBe('ok');
    expect(seen.chLagAtRestart).toBeGreaterThan(0);
  });

  it('caught up afterwards with every acknowledged result exactly once, aggregates included', async () => {
    const acknowledged = String(load.acknowledged.size);
    const [facts] = await stack.ch.select<{ n: string; ids: string }>('SELECT toString(count()) AS n, toString(uniqExact(test_id)) AS ids FROM test_results_v1');
    expect(facts).toEqual({ n: acknowledged, ids: acknowledged });
    const [daily] = await stack.ch.select<{ n: string }>('SELECT toString(sum(n)) AS n FROM (SELECT countMerge(executions) AS n FROM project_daily_v1 GROUP BY day)');
    expect(daily!.n).toBe(acknowledged);
    const pg = (await stack.pool.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM tests')).rows[0];
    expect(pg).toEqual({ n: load.acknowledged.size, ids: load.acknowledged.size });
  });
});
