import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, projectionPositions, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { runEvents, STEPS_PER_GENERATED_TEST } from '../support/events.ts';
import { killHard, spawnProjector } from '../support/processes.ts';
import { EventLog } from '../../lib/event-log.ts';
import { waitForMutations } from '../../projections/reset.ts';
import type { Event } from '../../schemas/events.ts';

const RUNS = 6;

// SIGKILL a projector process while it is in the middle of large batches, start
// it again, repeat; in the end every row exists exactly once and every count is
// exact. The consumer's fetch size is raised so batches hold thousands of events.
describe.each(['postgres', 'clickhouse'] as const)('the %s projector killed with SIGKILL mid-batch', (name) => {
  // Runs big enough to span several fetches of their partition (1 MiB per
  // partition for Postgres, 4 MiB for ClickHouse), so a kill can land between
  // them: Postgres applies every partition's batch at once, and with runs of
  // one batch each both of a wave's runs committed together, so no kill found
  // work pending (seen in CI). ClickHouse applies a batch in milliseconds.
  const TESTS_PER_RUN = name === 'postgres' ? 2000 : 4000;
  const TOTAL = RUNS * TESTS_PER_RUN;
  let stack: TestStack;
  let projectId: string;
  let expected: { failed: number; flaky: number; skipped: number; passed: number };
  const kills: { progressed: number; total: number; end: number }[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
    projectId = (await createTenant(stack.url)).projectId;
    const log = new EventLog(stack.kafka, stack.config.topic, 10_000);
    const all: Event[] = [];
    const applied = async () => [...(await projectionPositions(stack, name)).values()].reduce((a, o) => a + o + 1, 0);

    // Ingest goes on in waves of two runs; after each wave a projector process
    // starts, and is SIGKILLed at a random moment once it has applied something.
    for (let wave = 0; wave < RUNS / 2; wave++) {
      const events = [...runEvents(projectId, { tests: TESTS_PER_RUN }).events, ...runEvents(projectId, { tests: TESTS_PER_RUN }).events];
      all.push(...events);
      for (let i = 0; i < events.length; i += 500) await log.append(events.slice(i, i + 500));
      const end = await stack.topicEnd();
      const before = await applied();
      const child = spawnProjector(name, stack.env);
      const deadline = Date.now() + 60_000;
      while ((await applied()) === before && Date.now() < deadline) {
        child.assertAlive();
        await sleep(10);
      }
      // Soon after its first commit: a partition's batches are applied one after
      // another, so most kills land with some applied and some pending.
      await sleep(Math.random() * (name === 'postgres' ? 50 : 100));
      await killHard(child);
      kills.push({ progressed: (await applied()) - before, total: await applied(), end });
    }
    await log.close();

    // Then a last process finishes the job.
    const end = await stack.topicEnd();
    const child = spawnProjector(name, stack.env);
    const deadline = Date.now() + 120_000;
    while ((await applied()) < end && Date.now() < deadline) {
      child.assertAlive();
      await sleep(100);
    }
    await killHard(child);
    if ((await applied()) < end) console.error(`${name} did not catch up`, Object.fromEntries(await projectionPositions(stack, name)), { end, kills });
    if (name === 'clickhouse') await waitForMutations(stack.ch);

    const tests = all.filter((e) => e.type === 'test.reported');
    const count = (s: string) => tests.filter((e) => e.type === 'test.reported' && e.data.status === s).length;
    expected = { failed: count('failed'), flaky: count('flaky'), skipped: count('skipped'), passed: count('passed') };
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('was really killed after some progress with work still pending, at least once', () => {
    expect(kills.filter((k) => k.progressed > 0 && k.total < k.end).length, JSON.stringify(kills)).toBeGreaterThanOrEqual(1);
  });

  if (name === 'postgres') {
    it('holds every test, step and run exactly once with exact counts', async () => {
      const q = async (sql: string) => (await stack.pool.query(sql)).rows[0];
      expect(await q('SELECT count(*)::int AS n FROM tests')).toEqual({ n: TOTAL });
      expect(await q('SELECT count(*)::int AS n FROM test_steps')).toEqual({ n: TOTAL * STEPS_PER_GENERATED_TEST });
      expect(await q('SELECT count(*)::int AS n FROM test_cases')).toEqual({ n: TESTS_PER_RUN });
      expect(await q(`SELECT count(*)::int AS n, sum(total_tests)::int AS total, sum(passed_tests)::int AS passed,
        sum(failed_tests)::int AS failed, sum(flaky_tests)::int AS flaky, sum(skipped_tests)::int AS skipped,
        count(*) FILTER (WHERE status = 'failed')::int AS finished FROM runs`)).toEqual({
        n: RUNS, total: TOTAL, ...expected, finished: RUNS,
      });
    });
  } else {
    it('holds every test result and run event exactly once', async () => {
      const [facts] = await stack.ch.select<{ n: string; ids: string; flaky: string; failed: string }>(
        `SELECT toString(count()) AS n, toString(uniqExact(test_id)) AS ids, toString(countIf(status = 'flaky')) AS flaky,
           toString(countIf(status = 'failed')) AS failed FROM test_results_v1`);
      expect(facts).toEqual({ n: String(TOTAL), ids: String(TOTAL), flaky: String(expected.flaky), failed: String(expected.failed) });
      const [runs] = await stack.ch.select<{ n: string; ids: string }>(
        `SELECT toString(count()) AS n, toString(uniqExact(run_id, event_type)) AS ids FROM runs_v1`);
      expect(runs).toEqual({ n: String(RUNS * 2), ids: String(RUNS * 2) });
    });

    it('keeps the aggregates its materialised views maintain exact: nothing lost, nothing counted twice', async () => {
      const exact = { n: String(TOTAL), flaky: String(expected.flaky), failed: String(expected.failed) };
      expect((await stack.ch.select(`SELECT toString(sum(n)) AS n, toString(sum(f)) AS flaky, toString(sum(x)) AS failed FROM (
        SELECT countMerge(executions) AS n, countIfMerge(flaky) AS f, countIfMerge(failed) AS x FROM test_case_daily_v1 GROUP BY test_case_id)`))[0]).toEqual(exact);
      expect((await stack.ch.select(`SELECT toString(sum(n)) AS n, toString(sum(f)) AS flaky, toString(sum(x)) AS failed FROM (
        SELECT countMerge(executions) AS n, countIfMerge(flaky) AS f, countIfMerge(failed) AS x FROM project_daily_v1 GROUP BY day)`))[0]).toEqual(exact);
      expect((await stack.ch.select(`SELECT toString(sum(n)) AS n, toString(sum(f)) AS flaky, toString(sum(x)) AS failed FROM (
        SELECT countMerge(results) AS n, countIfMerge(flaky) AS f, countIfMerge(failed) AS x FROM run_stats_v1 GROUP BY run_id)`))[0]).toEqual(exact);
      expect((await stack.ch.select(`SELECT toString(count()) AS n, toString(uniqExact(test_id)) AS ids FROM run_results_v1`))[0])
        .toEqual({ n: String(TOTAL), ids: String(TOTAL) });
    });
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
