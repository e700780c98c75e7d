import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionPositions, startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { killHard, spawnProjector } from '../support/processes.ts';
import { sleep, startIngestLoad } from '../support/faults.ts';
import { flakinessScores } from '../../domain/pg/flakiness-scores.ts';

const KILLS = Number(process.env.RUNLEDGER_FAULT_KILLS ?? 20) / 2;

// The flakiness projection as its own process, SIGKILLed at random moments
// (scoring, writing, waiting for ClickHouse) while clients ingest results with
// failures and retry flakes. A last process catches up; its stored scores must
// then be exactly what scoring the project live gives.
describe('flakiness projection SIGKILLed at random moments while ingest goes on', () => {
  let stack: TestStack;
  let tenant: Tenant;
  const lives: Array<{ progressed: number }> = [];
  const applied = async () => [...(await projectionPositions(stack, 'flakiness')).values()].reduce((a, o) => a + o + 1, 0);

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    tenant = await createTenant(stack.url, 'flaky-kills');
    const load = startIngestLoad(stack.url, tenant, { testsPerBatch: 100, pauseMs: 100 });
    for (let round = 0; round < KILLS; round++) {
      const before = await applied();
      const child = spawnProjector('flakiness', stack.env);
      const deadline = Date.now() + 60_000;
      while ((await applied()) === before && Date.now() < deadline) {
        child.assertAlive();
        await sleep(20);
      }
      await sleep(Math.random() * 800);
      child.assertAlive();
      lives.push({ progressed: (await applied()) - before });
      await killHard(child);
    }
    await load.stop();
    expect(load.failures).toEqual([]);

    const last = spawnProjector('flakiness', stack.env);
    await stack.waitForProjections(['postgres', 'clickhouse']);
    const end = await stack.topicEnd();
    const deadline = Date.now() + 120_000;
    while ((await applied()) < end && Date.now() < deadline) {
      last.assertAlive();
      await sleep(100);
    }
    await killHard(last);
  }, 600_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('was killed each time after it had stored scores', () => {
    expect(lives).toHaveLength(KILLS);
    expect(lives.every((l) => l.progressed > 0), JSON.stringify(lives)).toBe(true);
  });

  it('ends with stored scores equal to scoring the project live', async () => {
    const api = client(stack.url, { key: tenant.apiKey });
    const read = async () => {
      const res = await api.get('/api/flakiness?limit=500');
      expect(res.status).toBe(200);
      const { asOf, source, ...rest } = res.body;
      return { source, rest };
    };
    const stored = await read();
    expect(stored.source).toBe('snapshot');
    expect(stored.rest.total).toBeGreaterThan(50);
    expect(stored.rest.summary.totalFlakyTests).toBeGreaterThan(0);
    await flakinessScores.remove(stack.pool, [tenant.projectId]);
    const live = await read();
    expect(live.source).toBe('live');
    expect(stored.rest).toEqual(live.rest);
  });
});
