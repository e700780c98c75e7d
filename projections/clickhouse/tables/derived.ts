import { sql, type ClickHouse } from '../../../lib/clickhouse.ts';
import { waitForMutations } from '../mutations.ts';

// Tables filled by materialised views in the same INSERT as test_results_v1
// (ops/migrations/clickhouse/005, 006, 009, 010). They hold no log position of their own:
// they are exact because the projector never inserts a result twice, and a
// replay rebuilds them after a TRUNCATE.
export const RUN_RESULTS_TABLE = 'run_results_v1';
export const RUN_STATS_TABLE = 'run_stats_v1';
export const TEST_CASE_DAILY_TABLE = 'test_case_daily_v1';
export const PROJECT_DAILY_TABLE = 'project_daily_v1';
const REFEED_TABLE = 'test_results_refeed_v1';

export const CLICKHOUSE_DERIVED_TABLES = [RUN_RESULTS_TABLE, RUN_STATS_TABLE, TEST_CASE_DAILY_TABLE, PROJECT_DAILY_TABLE] as const;

const COUNTS = `countMerge(executions) AS executions, countIfMerge(passed) AS passed, countIfMerge(failed) AS failed,
  countIfMerge(flaky) AS flaky, countIfMerge(skipped) AS skipped, countIfMerge(timed_out) AS timed_out,
  countIfMerge(interrupted) AS interrupted`;

// Each derived table as plain values (aggregate states finalised), in a stable
// order: what a replay must reproduce exactly.
export const DERIVED_SNAPSHOTS: Record<(typeof CLICKHOUSE_DERIVED_TABLES)[number], string> = {
  [RUN_RESULTS_TABLE]: `SELECT * FROM ${RUN_RESULTS_TABLE} ORDER BY _partition, _offset`,
  [RUN_STATS_TABLE]: `SELECT project_id, run_id, anyMerge(branch) AS branch, anyMerge(commit_sha) AS commit_sha,
      minMerge(first_at) AS first_at, maxMerge(last_at) AS last_at, countMerge(results) AS results,
      countIfMerge(passed) AS passed, countIfMerge(failed) AS failed, countIfMerge(flaky) AS flaky,
      countIfMerge(skipped) AS skipped, countIfMerge(timed_out) AS timed_out, countIfMerge(interrupted) AS interrupted,
      sumMerge(duration_sum) AS duration_sum
    FROM ${RUN_STATS_TABLE} GROUP BY project_id, run_id ORDER BY project_id, run_id`,
  [TEST_CASE_DAILY_TABLE]: `SELECT project_id, test_case_id, branch, day, anyMerge(title) AS title, anyMerge(full_title) AS full_title,
      anyMerge(file_path) AS file_path, ${COUNTS},
      quantilesExactWeightedIfMerge(0.5, 0.95)(duration_q) AS duration_q, maxMerge(last_at) AS last_at
    FROM ${TEST_CASE_DAILY_TABLE} GROUP BY project_id, test_case_id, branch, day ORDER BY project_id, test_case_id, branch, day`,
  [PROJECT_DAILY_TABLE]: `SELECT project_id, branch, day, ${COUNTS},
      quantilesExactWeightedIfMerge(0.5, 0.95)(duration_q) AS duration_q, uniqExactMerge(tests) AS tests, uniqExactMerge(runs) AS runs
    FROM ${PROJECT_DAILY_TABLE} GROUP BY project_id, branch, day ORDER BY project_id, branch, day`,
};

// Removes deleted runs from every derived table. Rows keyed by run go with a
// DELETE; the per-day aggregates cannot subtract a run, so the days a run
// touched are deleted and recomputed from the results that remain (through the
// twin views on test_results_refeed_v1). The days to recompute are read from
// run_stats_v1, which is deleted last: run again after a crash at any step,
// this does the same work again and ends in the same state. The caller has
// already deleted the runs' rows from the fact tables.
//
// It assumes no other insert while it runs: the ClickHouse projector writes
// one group of batches at a time (it calls this after the group's inserts),
// and runs as one process (docs/flakiness.md).
export async function deleteRunsFromDerived(ch: ClickHouse, runIds: string[]): Promise<void> {
  const days = await ch.select<{ project_id: string; branch: string; first: string; last: string }>(
    `SELECT project_id, anyMerge(branch) AS branch, toString(toDate(minMerge(first_at))) AS first,
       toString(toDate(maxMerge(last_at))) AS last
     FROM ${RUN_STATS_TABLE} WHERE ${sql.inList('run_id', runIds)} GROUP BY project_id, run_id`,
  );
  await ch.command(`ALTER TABLE ${RUN_RESULTS_TABLE} DELETE WHERE ${sql.inList('run_id', runIds)}`);
  const touched = (dayExpr: string) => days.map((d) => `(project_id = ${sql.str(d.project_id)} AND branch = ${sql.str(d.branch)}
    AND ${dayExpr} BETWEEN toDate(${sql.str(d.first)}) AND toDate(${sql.str(d.last)}))`).join(' OR ');
  if (days.length) {
    await ch.command(`ALTER TABLE ${TEST_CASE_DAILY_TABLE} DELETE WHERE ${touched('day')}`);
    await ch.command(`ALTER TABLE ${PROJECT_DAILY_TABLE} DELETE WHERE ${touched('day')}`);
    await waitForMutations(ch); // the facts' own deletes included
    await ch.command(`INSERT INTO ${REFEED_TABLE} SELECT * FROM test_results_v1 WHERE ${touched('toDate(started_at)')}`);
  }
  await ch.command(`ALTER TABLE ${RUN_STATS_TABLE} DELETE WHERE ${sql.inList('run_id', runIds)}`);
  await waitForMutations(ch);
}
