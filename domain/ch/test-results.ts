import { sql, type ClickHouse } from '../../lib/clickhouse.ts';

type HistoryRow = { run_id: string; test_id: string; status: string; duration_ms: number; branch: string; commit_sha: string; created_at_ms: string };

// Named queries over test_results_v1 (one row per test execution).
export const testResults = {
  async history(ch: ClickHouse, q: { projectId: string; testCaseId: string; branch?: string; limit: number; offset: number }) {
    const where = [`project_id = ${sql.str(q.projectId)}`, `test_case_id = ${sql.str(q.testCaseId)}`];
    if (q.branch !== undefined) where.push(`branch = ${sql.str(q.branch)}`);
    const cond = where.join(' AND ');
    const [rows, count] = await Promise.all([
      ch.select<HistoryRow>(
        `SELECT run_id, test_id, toString(status) AS status, duration_ms, branch, commit_sha, created_at_ms
         FROM test_results_v1 WHERE ${cond}
         ORDER BY started_at DESC, test_id DESC LIMIT ${sql.int(q.offset)}, ${sql.int(q.limit)}`,
      ),
      ch.select<{ n: number }>(`SELECT toUInt32(count()) AS n FROM test_results_v1 WHERE ${cond}`),
    ]);
    return {
      rows: rows.map((r) => ({
        runId: r.run_id, testId: r.test_id, status: r.status, duration: Number(r.duration_ms),
        branch: r.branch || null, commitSha: r.commit_sha || null, createdAt: new Date(Number(r.created_at_ms)).toISOString(),
      })),
      total: Number(count[0]?.n ?? 0),
    };
  },
};
