import { sql, type ClickHouse } from '../../lib/clickhouse.ts';
import type { Execution, FlakinessParams, Outcome } from '../flakiness/score.ts';

// The ClickHouse side of flakiness: which runs were infrastructure incidents,
// what the per-day aggregates say about every test case, and the execution
// sequences of the few test cases that failed or flaked. A test case that never
// failed needs nothing but its daily counts, so the expensive part reads only
// the rows of the test cases that can have evidence.

export type Scope = { projectId: string; branch?: string; fromDay: number; testCaseIds?: readonly string[] };

export type CaseDays = {
  testCaseId: string; title: string; fullTitle: string; filePath: string; lastAt: number;
  days: Array<{ day: number; executions: number; bad: number }>;
};

const fromTime = (fromDay: number) => `toDateTime(${sql.int(fromDay * 86_400)})`;
const fromDate = (fromDay: number) => `toDate(${fromTime(fromDay)})`;

function scopeWhere(s: Scope, dayColumn: string, from: string): string {
  const where = [`project_id = ${sql.str(s.projectId)}`, `${dayColumn} >= ${from}`];
  if (s.branch !== undefined) where.push(`branch = ${sql.str(s.branch)}`);
  if (s.testCaseIds) where.push(sql.inList('test_case_id', s.testCaseIds));
  return where.join(' AND ');
}

// Runs in which at least `incidentFailureShare` of the executed results failed
// (and at least `incidentMinResults` ran): their failures say something about
// the infrastructure, not about the tests.
export async function incidentRuns(ch: ClickHouse, projectId: string, fromDay: number, p: FlakinessParams): Promise<string[]> {
  const rows = await ch.select<{ run_id: string }>(
    `SELECT run_id FROM run_stats_v1 WHERE project_id = ${sql.str(projectId)} GROUP BY run_id
     HAVING maxMerge(last_at) >= ${fromTime(fromDay)}
       AND countMerge(results) - countIfMerge(skipped) >= ${sql.int(p.incidentMinResults)}
       AND (countIfMerge(failed) + countIfMerge(timed_out) + countIfMerge(interrupted)) * 10000
         >= ${sql.int(Math.round(p.incidentFailureShare * 10000))} * (countMerge(results) - countIfMerge(skipped))`,
  );
  return rows.map((r) => r.run_id).sort();
}

// Executions (skipped and interrupted ones left out) and failed-or-flaky
// executions per test case and day, from the daily aggregate.
export async function caseDays(ch: ClickHouse, s: Scope): Promise<CaseDays[]> {
  const rows = await ch.select<{ test_case_id: string; title: string; full_title: string; file_path: string; last_at: number; days: Array<[number, string, string]> }>(
    `SELECT test_case_id, any(t) AS title, any(ft) AS full_title, any(fp) AS file_path, max(last) AS last_at,
       groupArray((d, n, bad)) AS days
     FROM (
       SELECT test_case_id, toUInt32(day) AS d, anyMerge(title) AS t, anyMerge(full_title) AS ft, anyMerge(file_path) AS fp,
         toUInt32(maxMerge(last_at)) AS last,
         countMerge(executions) - countIfMerge(skipped) - countIfMerge(interrupted) AS n,
         countIfMerge(failed) + countIfMerge(timed_out) + countIfMerge(flaky) AS bad
       FROM test_case_daily_v1 WHERE ${scopeWhere(s, 'day', fromDate(s.fromDay))}
       GROUP BY test_case_id, d
     ) GROUP BY test_case_id`,
  );
  return rows.map((r) => ({
    testCaseId: r.test_case_id, title: r.title, fullTitle: r.full_title, filePath: r.file_path, lastAt: Number(r.last_at),
    days: r.days.map(([day, n, bad]) => ({ day: Number(day), executions: Number(n), bad: Number(bad) })).filter((d) => d.executions > 0),
  }));
}

// What incident runs contributed to the daily counts, to take it out again.
export async function incidentCaseDays(ch: ClickHouse, s: Scope, runIds: readonly string[]): Promise<Map<string, Map<number, { executions: number; bad: number }>>> {
  const out = new Map<string, Map<number, { executions: number; bad: number }>>();
  if (runIds.length === 0) return out;
  const rows = await ch.select<{ test_case_id: string; d: number; n: string; bad: string }>(
    `SELECT test_case_id, toUInt32(toDate(started_at)) AS d,
       countIf(status NOT IN ('skipped', 'interrupted')) AS n, countIf(status IN ('failed', 'timedOut', 'flaky')) AS bad
     FROM run_results_v1 WHERE ${sql.inList('run_id', runIds)} AND ${scopeWhere(s, 'started_at', fromTime(s.fromDay))}
     GROUP BY test_case_id, d`,
  );
  for (const r of rows) {
    if (!out.has(r.test_case_id)) out.set(r.test_case_id, new Map());
    out.get(r.test_case_id)!.set(Number(r.d), { executions: Number(r.n), bad: Number(r.bad) });
  }
  return out;
}

const OUTCOMES: Record<string, Outcome> = { passed: 'pass', flaky: 'flaky', failed: 'fail', timedOut: 'fail' };

// The executions of the given test cases, outside incident runs, in time order.
// Branch and commit travel as short hashes (only equality matters); run id and
// commit in full only for the executions that did not simply pass.
export async function caseExecutions(ch: ClickHouse, s: Scope & { testCaseIds: readonly string[] }, excludedRuns: readonly string[]): Promise<Map<string, Execution[]>> {
  const out = new Map<string, Execution[]>();
  if (s.testCaseIds.length === 0) return out;
  const notIncident = excludedRuns.length ? `AND NOT ${sql.inList('run_id', excludedRuns)}` : '';
  const rows = await ch.select<{ test_case_id: string; x: Array<[number, string, string, string, string, string]> }>(
    `SELECT test_case_id,
       arrayMap(e -> (e.1, e.3, e.4, e.5, e.6, e.7), arraySort(groupArray((toUInt32(started_at), test_id, toString(status),
         substring(hex(cityHash64(branch)), 1, 10), if(commit_sha = '', '', substring(hex(cityHash64(commit_sha)), 1, 12)),
         if(status = 'passed', '', run_id), if(status = 'passed', '', commit_sha))))) AS x
     FROM test_results_v1
     WHERE ${scopeWhere(s, 'started_at', fromTime(s.fromDay))} AND status IN ('passed', 'failed', 'flaky', 'timedOut') ${notIncident}
     GROUP BY test_case_id`,
    { max_query_size: 16 * 1024 * 1024 },
  );
  for (const r of rows) {
    out.set(r.test_case_id, r.x.map(([t, status, branch, commitKey, runId, commit], i) => ({
      t: Number(t), seq: String(i).padStart(8, '0'), outcome: OUTCOMES[status]!, branch, commit: commitKey,
      runId, commitSha: commit,
    })));
  }
  return out;
}

// The test cases a run executed.
export async function runTestCases(ch: ClickHouse, projectId: string, runId: string): Promise<string[]> {
  const rows = await ch.select<{ test_case_id: string }>(
    `SELECT DISTINCT test_case_id FROM run_results_v1 WHERE project_id = ${sql.str(projectId)} AND run_id = ${sql.str(runId)}`,
  );
  return rows.map((r) => r.test_case_id).sort();
}

// The latest `n` executions (skipped and interrupted left out) of each test case
// outside the given runs, newest first: when ingest received it (ms), status.
export async function recentOutcomes(ch: ClickHouse, projectId: string, testCaseIds: readonly string[], n: number, excludedRuns: readonly string[]): Promise<Map<string, Array<[number, string]>>> {
  const out = new Map<string, Array<[number, string]>>();
  if (testCaseIds.length === 0) return out;
  const notIncident = excludedRuns.length ? `AND NOT ${sql.inList('run_id', excludedRuns)}` : '';
  const rows = await ch.select<{ test_case_id: string; t: string; s: string }>(
    `SELECT test_case_id, toString(created_at_ms) AS t, toString(status) AS s FROM test_results_v1
     WHERE project_id = ${sql.str(projectId)} AND ${sql.inList('test_case_id', testCaseIds)}
       AND status NOT IN ('skipped', 'interrupted') ${notIncident}
     ORDER BY test_case_id, started_at DESC, test_id DESC LIMIT ${sql.int(n)} BY test_case_id`,
  );
  for (const r of rows) {
    if (!out.has(r.test_case_id)) out.set(r.test_case_id, []);
    out.get(r.test_case_id)!.push([Number(r.t), r.s]);
  }
  return out;
}

// How far the ClickHouse projector got on a partition of the log.
export async function clickhousePosition(ch: ClickHouse, topic: string, partition: number): Promise<number> {
  const rows = await ch.select<{ o: string; n: string }>(
    `SELECT toString(max(offset)) AS o, toString(count()) AS n FROM projection_offsets_v1
     WHERE projection = 'clickhouse' AND topic = ${sql.str(topic)} AND partition = ${sql.int(partition)}`,
  );
  return Number(rows[0]?.n ?? 0) > 0 ? Number(rows[0]!.o) : -1;
}
