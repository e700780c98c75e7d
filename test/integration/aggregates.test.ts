import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { runEvents } from '../support/events.ts';
import { EventLog } from '../../lib/event-log.ts';
import { makeEvent } from '../../domain/events.ts';
import { waitForMutations } from '../../projections/reset.ts';
import { CLICKHOUSE_DERIVED_TABLES, DERIVED_SNAPSHOTS, PROJECT_DAILY_TABLE, TEST_CASE_DAILY_TABLE } from '../../projections/clickhouse/tables/derived.ts';

const DAY = 86_400_000;
type Rows = Array<Record<string, unknown>>;
const snapshot = async (stack: TestStack): Promise<Record<string, Rows>> =>
  Object.fromEntries(await Promise.all(CLICKHOUSE_DERIVED_TABLES.map(async (t) => [t, await stack.ch.select<Record<string, unknown>>(DERIVED_SNAPSHOTS[t])])));

// The aggregates maintained at write time stay exact when a run is deleted:
// they end equal to aggregates computed afresh from the results that remain.
describe('write-time aggregates after a run is deleted', () => {
  let stack: TestStack;
  let projectId: string;
  let runs: ReturnType<typeof runEvents>[];
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['clickhouse'] });
    projectId = (await createTenant(stack.url)).projectId;
    const now = Date.now();
    runs = [
      runEvents(projectId, { tests: 40, at: new Date(now - 2 * DAY), branch: 'main' }),
      runEvents(projectId, { tests: 40, at: new Date(now - 2 * DAY + 60_000), branch: 'main' }),
      runEvents(projectId, { tests: 30, at: new Date(now - DAY), branch: 'main' }),
      runEvents(projectId, { tests: 20, at: new Date(now - DAY), branch: 'feature/x' }),
    ];
    const log = new EventLog(stack.kafka, stack.config.topic, 10_000);
    await log.append(runs.flatMap((r) => r.events));
    await stack.waitForProjections();
    before = await snapshot(stack);
    const at = new Date().toISOString();
    await log.append([makeEvent('run.deleted', { projectId, runId: runs[1]!.runId, actor: { type: 'system', id: 't' }, correlationId: null, now: at, data: { id: runs[1]!.runId, deletedAt: at } })]);
    await log.close();
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('removes the run from the per-run tables and leaves the other runs as they were', async () => {
    const after = await snapshot(stack);
    const deleted = runs[1]!.runId;
    expect(after.run_stats_v1).toEqual(before.run_stats_v1!.filter((r) => r.run_id !== deleted));
    expect(after.run_results_v1).toEqual(before.run_results_v1!.filter((r) => r.run_id !== deleted));
  });

  it('recomputes the days it touched, equal to aggregating the remaining results afresh', async () => {
    const after = await snapshot(stack);
    expect(after[PROJECT_DAILY_TABLE]!.find((r) => r.branch === 'main' && r.runs === '1')).toBeDefined();
    await stack.stopProjection('clickhouse');
    for (const t of [TEST_CASE_DAILY_TABLE, PROJECT_DAILY_TABLE]) await stack.ch.command(`TRUNCATE TABLE ${t}`);
    await stack.ch.command('INSERT INTO test_results_refeed_v1 SELECT * FROM test_results_v1');
    const fresh = await snapshot(stack);
    expect(after[TEST_CASE_DAILY_TABLE]).toEqual(fresh[TEST_CASE_DAILY_TABLE]);
    expect(after[PROJECT_DAILY_TABLE]).toEqual(fresh[PROJECT_DAILY_TABLE]);
    expect(fresh[PROJECT_DAILY_TABLE]!.map((r) => [r.branch, r.executions, r.runs])).toEqual([['feature/x', '20', '1'], ['main', '40', '1'], ['main', '30', '1']]);
  });
});
