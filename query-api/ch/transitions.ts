import { sql, type ClickHouse } from '../../lib/clickhouse.ts';

export type TestState = 'stable' | 'flaky' | 'broken';

// Each test case's state per day or week, from the daily aggregate: broken when
// every run of it failed (or timed out), flaky when it was flaky or both passed
// and failed, stable when it only passed; buckets where it only skipped are left
// out. One row per test case, its buckets in order.
export async function caseStates(ch: ClickHouse, q: { projectId: string; fromDay: number; week: boolean; branch?: string }): Promise<Array<{ buckets: number[]; states: TestState[] }>> {
  const where = [`project_id = ${sql.str(q.projectId)}`, `day >= toDate(toDateTime(${sql.int(q.fromDay * 86_400)}))`];
  if (q.branch !== undefined) where.push(`branch = ${sql.str(q.branch)}`);
  const rows = await ch.select<{ bs: number[]; ss: number[] }>(
    `SELECT groupArray(b) AS bs, groupArray(s) AS ss FROM (
       SELECT test_case_id, b, multiIf(f > 0 OR (p > 0 AND x > 0), 2, x > 0, 3, p > 0, 1, 0) AS s FROM (
         SELECT test_case_id, toUInt32(${q.week ? 'toMonday(day)' : 'day'}) AS b,
                countIfMerge(passed) AS p, countIfMerge(failed) + countIfMerge(timed_out) AS x, countIfMerge(flaky) AS f
           FROM test_case_daily_v1 WHERE ${where.join(' AND ')}
          GROUP BY test_case_id, b
       ) WHERE s > 0 ORDER BY test_case_id, b
     ) GROUP BY test_case_id`,
  );
  const name: Record<number, TestState> = { 1: 'stable', 2: 'flaky', 3: 'broken' };
  return rows.map((r) => ({ buckets: r.bs.map(Number), states: r.ss.map((s) => name[Number(s)]!) }));
}
