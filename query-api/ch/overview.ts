import { sql, type ClickHouse } from '../../lib/clickhouse.ts';

// Distinct test cases with a flaky and with a failed (or timed-out) result per
// project and day, from the write-time daily aggregate (test_case_daily_v1).
export async function dailyTestOutcomes(ch: ClickHouse, projectIds: string[], fromDay: number): Promise<Array<{ projectId: string; day: number; flaky: number; failed: number }>> {
  if (!projectIds.length) return [];
  const rows = await ch.select<{ project_id: string; d: number; flaky: string; failed: string }>(
    `SELECT project_id, d, toString(countIf(f > 0)) AS flaky, toString(countIf(x > 0)) AS failed
       FROM (
         SELECT project_id, test_case_id, toUInt32(day) AS d, countIfMerge(flaky) AS f, countIfMerge(failed) + countIfMerge(timed_out) AS x
           FROM test_case_daily_v1
          WHERE ${sql.inList('project_id', projectIds)} AND day >= toDate(toDateTime(${sql.int(fromDay * 86_400)}))
          GROUP BY project_id, test_case_id, d
       )
      GROUP BY project_id, d`,
  );
  return rows.map((r) => ({ projectId: r.project_id, day: Number(r.d), flaky: Number(r.flaky), failed: Number(r.failed) }));
}
