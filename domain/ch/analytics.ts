import { sql, type ClickHouse } from '../../lib/clickhouse.ts';

// Named queries behind /api/analytics and run comparison. Dashboards read the
// write-time aggregates (project_daily_v1, test_case_daily_v1, run_stats_v1);
// a run's results come from run_results_v1, ordered by run.

const DAY = 86_400;
const since = (fromDay: number) => `toDate(toDateTime(${sql.int(fromDay * DAY)}))`;
const num = (x: unknown) => Number(x ?? 0);

export type Bucket = {
  bucket: number; // day number (UTC) of the day or the Monday
  executions: number; passed: number; failed: number; flaky: number; skipped: number; timedOut: number; interrupted: number;
  p50: number | null; p95: number | null; tests: number | null;
};

type BucketRow = { b: number; executions: string; passed: string; failed: string; flaky: string; skipped: string; timed_out: string; interrupted: string; q?: number[]; tests?: string };

const COUNT_COLUMNS = ['executions', 'passed', 'failed', 'flaky', 'skipped', 'timed_out', 'interrupted'];
// Counts add up: each row's own (finalizeAggregation) summed, no state merged.
const COUNTS = COUNT_COLUMNS.map((c) => `toString(sum(finalizeAggregation(${c}))) AS ${c}`).join(', ');

// Result counts per day or week, for a project or one test case; duration
// quantiles and distinct tests only when asked (their states are what costs).
export async function resultBuckets(ch: ClickHouse, q: {
  projectId: string; fromDay: number; week: boolean; branch?: string; testCaseId?: string; quantiles?: boolean; tests?: boolean;
}): Promise<Bucket[]> {
  const table = q.testCaseId ? 'test_case_daily_v1' : 'project_daily_v1';
  const where = [`project_id = ${sql.str(q.projectId)}`, `day >= ${since(q.fromDay)}`];
  if (q.testCaseId) where.push(`test_case_id = ${sql.str(q.testCaseId)}`);
  if (q.branch !== undefined) where.push(`branch = ${sql.str(q.branch)}`);
  const extra = [
    q.quantiles ? 'quantilesExactWeightedIfMerge(0.5, 0.95)(duration_q) AS q' : '',
    q.tests && !q.testCaseId ? 'toString(uniqExactMerge(tests)) AS tests' : '',
  ].filter(Boolean);
  const rows = await ch.select<BucketRow>(
    `SELECT toUInt32(${q.week ? 'toMonday(day)' : 'day'}) AS b, ${[COUNTS, ...extra].join(', ')}
     FROM ${table} WHERE ${where.join(' AND ')} GROUP BY b ORDER BY b`,
  );
  return rows.map((r) => {
    const passedAny = num(r.passed) + num(r.flaky);
    return {
      bucket: num(r.b), executions: num(r.executions), passed: num(r.passed), failed: num(r.failed), flaky: num(r.flaky),
      skipped: num(r.skipped), timedOut: num(r.timed_out), interrupted: num(r.interrupted),
      p50: r.q && passedAny ? num(r.q[0]) : null, p95: r.q && passedAny ? num(r.q[1]) : null,
      tests: r.tests !== undefined ? num(r.tests) : q.testCaseId ? (num(r.executions) ? 1 : 0) : null,
    };
  });
}

// Run durations (the latest known per run) per day or week of the run's creation.
export async function runDurationBuckets(ch: ClickHouse, q: { projectId: string; fromDay: number; week: boolean; branch?: string }): Promise<Array<{ bucket: number; runs: number; p50: number; p95: number }>> {
  const branch = q.branch !== undefined ? `AND br = ${sql.str(q.branch)}` : '';
  const rows = await ch.select<{ b: number; runs: string; q: number[] }>(
    `SELECT toUInt32(${q.week ? 'toMonday(toDate(c))' : 'toDate(c)'}) AS b, toString(count()) AS runs, quantiles(0.5, 0.95)(d) AS q
     FROM (
       SELECT run_id, argMax(duration_ms, _offset) AS d, min(created_at) AS c, any(branch) AS br
       FROM runs_v1 WHERE project_id = ${sql.str(q.projectId)} AND duration_ms >= 0 GROUP BY run_id
     ) WHERE c >= toDateTime(${sql.int(q.fromDay * DAY)}) ${branch}
     GROUP BY b ORDER BY b`,
  );
  return rows.map((r) => ({ bucket: num(r.b), runs: num(r.runs), p50: Math.round(num(r.q[0])), p95: Math.round(num(r.q[1])) }));
}

export type CaseRow = { testCaseId: string; title: string; filePath: string; executions: number; failures: number; passedAny: number; p50: number; p95: number };

// Per test case over a period, from the daily aggregate: for leaderboards.
export async function caseTotals(ch: ClickHouse, q: { projectId: string; fromDay: number; branch?: string; order: 'p95' | 'failures'; limit: number }): Promise<CaseRow[]> {
  const where = [`project_id = ${sql.str(q.projectId)}`, `day >= ${since(q.fromDay)}`];
  if (q.branch !== undefined) where.push(`branch = ${sql.str(q.branch)}`);
  const order = q.order === 'p95' ? 'passed_any > 0 ORDER BY q[2] DESC' : 'failures > 0 ORDER BY failures DESC';
  const rows = await ch.select<{ test_case_id: string; title: string; file_path: string; executed: string; failures: string; passed_any: string; q: number[] }>(
    `SELECT test_case_id, anyMerge(title) AS title, anyMerge(file_path) AS file_path,
       countMerge(executions) - countIfMerge(skipped) AS executed, countIfMerge(failed) + countIfMerge(timed_out) AS failures,
       countIfMerge(passed) + countIfMerge(flaky) AS passed_any, quantilesExactWeightedIfMerge(0.5, 0.95)(duration_q) AS q
     FROM test_case_daily_v1 WHERE ${where.join(' AND ')}
     GROUP BY test_case_id HAVING ${order}, test_case_id LIMIT ${sql.int(q.limit)}`,
  );
  return rows.map((r) => ({
    testCaseId: r.test_case_id, title: r.title, filePath: r.file_path, executions: num(r.executed), failures: num(r.failures),
    passedAny: num(r.passed_any), p50: Math.round(num(r.q[0])), p95: Math.round(num(r.q[1])),
  }));
}

export type RunCase = { testCaseId: string; title: string; fullTitle: string; filePath: string; statuses: string[]; duration: number; error: string };

// `raw`: the same answer from test_results_v1 alone, without the tables kept at
// write time (a full scan: what the benchmark compares against).
export type Source = { raw?: boolean };

// A run's results per test case (a test case may run more than once in a run).
export async function runCases(ch: ClickHouse, projectId: string, runId: string, src: Source = {}): Promise<Map<string, RunCase>> {
  const rows = await ch.select<{ test_case_id: string; title: string; full_title: string; file_path: string; statuses: string[]; duration: number; error: string }>(
    `SELECT test_case_id, any(title) AS title, any(full_title) AS full_title, any(file_path) AS file_path,
       groupArray(toString(status)) AS statuses, round(avg(duration_ms)) AS duration, any(error_message) AS error
     FROM ${src.raw ? 'test_results_v1' : 'run_results_v1'} WHERE project_id = ${sql.str(projectId)} AND run_id = ${sql.str(runId)} GROUP BY test_case_id`,
  );
  return new Map(rows.map((r) => [r.test_case_id, {
    testCaseId: r.test_case_id, title: r.title, fullTitle: r.full_title, filePath: r.file_path, statuses: r.statuses,
    duration: num(r.duration), error: r.error.slice(0, 500),
  }]));
}

export type RunSummary = {
  runId: string; branch: string; commitSha: string; firstAt: number; lastAt: number; results: number;
  passed: number; failed: number; flaky: number; skipped: number; timedOut: number; interrupted: number; durationSum: number;
};
const RUN_SUMMARY = `run_id, anyMerge(branch) AS branch, anyMerge(commit_sha) AS commit_sha, toUInt32(minMerge(first_at)) AS first_at,
  toUInt32(maxMerge(last_at)) AS last_at, countMerge(results) AS results, countIfMerge(passed) AS passed, countIfMerge(failed) AS failed,
  countIfMerge(flaky) AS flaky, countIfMerge(skipped) AS skipped, countIfMerge(timed_out) AS timed_out,
  countIfMerge(interrupted) AS interrupted, sumMerge(duration_sum) AS duration_sum`;
const RAW_RUN_SUMMARY = `run_id, any(branch) AS branch, any(commit_sha) AS commit_sha, toUInt32(min(started_at)) AS first_at,
  toUInt32(max(started_at)) AS last_at, count() AS results, countIf(status = 'passed') AS passed, countIf(status = 'failed') AS failed,
  countIf(status = 'flaky') AS flaky, countIf(status = 'skipped') AS skipped, countIf(status = 'timedOut') AS timed_out,
  countIf(status = 'interrupted') AS interrupted, sum(duration_ms) AS duration_sum`;
// Per-run counts: from run_stats_v1, or (raw) from the results.
export const runStatsFrom = (src: Source) => (src.raw ? `SELECT ${RAW_RUN_SUMMARY} FROM test_results_v1` : `SELECT ${RUN_SUMMARY} FROM run_stats_v1`);
type RunSummaryRow = Record<'run_id' | 'branch' | 'commit_sha', string> & Record<'first_at' | 'last_at' | 'results' | 'passed' | 'failed' | 'flaky' | 'skipped' | 'timed_out' | 'interrupted' | 'duration_sum', string | number>;
const runSummary = (r: RunSummaryRow): RunSummary => ({
  runId: r.run_id, branch: r.branch, commitSha: r.commit_sha, firstAt: num(r.first_at), lastAt: num(r.last_at), results: num(r.results),
  passed: num(r.passed), failed: num(r.failed), flaky: num(r.flaky), skipped: num(r.skipped), timedOut: num(r.timed_out),
  interrupted: num(r.interrupted), durationSum: num(r.duration_sum),
});

export async function runSummaries(ch: ClickHouse, projectId: string, runIds: readonly string[], src: Source = {}): Promise<Map<string, RunSummary>> {
  const rows = await ch.select<RunSummaryRow>(
    `${runStatsFrom(src)} WHERE project_id = ${sql.str(projectId)} AND ${sql.inList('run_id', runIds)} GROUP BY run_id`,
  );
  return new Map(rows.map((r) => [r.run_id, runSummary(r)]));
}

// The runs on a branch that started before `beforeSec`, newest first.
export async function previousRuns(ch: ClickHouse, projectId: string, branch: string, beforeSec: number, limit: number, src: Source = {}): Promise<RunSummary[]> {
  const rows = await ch.select<RunSummaryRow>(
    `${runStatsFrom(src)} WHERE project_id = ${sql.str(projectId)} GROUP BY run_id
     HAVING branch = ${sql.str(branch)} AND first_at < ${sql.int(beforeSec)} ORDER BY first_at DESC LIMIT ${sql.int(limit)}`,
  );
  return rows.map(runSummary);
}

// The last `n` executions of each test case on a branch before a time, outside the given runs.
export async function caseHistory(ch: ClickHouse, q: { projectId: string; branch: string; testCaseIds: readonly string[]; beforeSec: number; fromSec: number; n: number; excludedRuns: readonly string[] }): Promise<Map<string, Array<{ status: string; duration: number }>>> {
  const out = new Map<string, Array<{ status: string; duration: number }>>();
  if (q.testCaseIds.length === 0) return out;
  const notExcluded = q.excludedRuns.length ? `AND NOT ${sql.inList('run_id', q.excludedRuns)}` : '';
  const rows = await ch.select<{ test_case_id: string; s: string; d: number }>(
    `SELECT test_case_id, toString(status) AS s, duration_ms AS d FROM test_results_v1
     WHERE project_id = ${sql.str(q.projectId)} AND ${sql.inList('test_case_id', q.testCaseIds)} AND branch = ${sql.str(q.branch)}
       AND started_at < toDateTime(${sql.int(q.beforeSec)}) AND started_at >= toDateTime(${sql.int(q.fromSec)})
       AND status NOT IN ('skipped', 'interrupted') ${notExcluded}
     ORDER BY test_case_id, started_at DESC, test_id DESC LIMIT ${sql.int(q.n)} BY test_case_id`,
    { max_query_size: 16 * 1024 * 1024 },
  );
  for (const r of rows) {
    if (!out.has(r.test_case_id)) out.set(r.test_case_id, []);
    out.get(r.test_case_id)!.push({ status: r.s, duration: num(r.d) });
  }
  return out;
}

export type ErrorCluster = {
  fingerprint: string; pattern: string; topFrame: string; sample: string; occurrences: number; tests: number; runs: number;
  flaky: number; firstAt: number; lastAt: number; exampleTests: string[];
};

export async function errorClusters(ch: ClickHouse, q: { projectId: string; fromDay: number; branch?: string; testCaseId?: string; limit: number; offset: number }): Promise<{ clusters: ErrorCluster[]; total: number }> {
  const where = [`project_id = ${sql.str(q.projectId)}`, `started_at >= toDateTime(${sql.int(q.fromDay * DAY)})`];
  if (q.branch !== undefined) where.push(`branch = ${sql.str(q.branch)}`);
  if (q.testCaseId) where.push(`test_case_id = ${sql.str(q.testCaseId)}`);
  const cond = where.join(' AND ');
  const [rows, total] = await Promise.all([
    ch.select<{ fingerprint: string; pattern: string; frame: string; sample: string; n: string; tests: string; runs: string; flaky: string; first: number; last: number; examples: string[] }>(
      `SELECT fingerprint, any(message_pattern) AS pattern, any(top_frame) AS frame, argMax(sample_message, started_at) AS sample,
         count() AS n, uniqExact(test_case_id) AS tests, uniqExact(run_id) AS runs, countIf(status = 'flaky') AS flaky,
         toUInt32(min(started_at)) AS first, toUInt32(max(started_at)) AS last, arraySlice(arraySort(groupUniqArray(test_case_id)), 1, 5) AS examples
       FROM test_errors_v1 WHERE ${cond} GROUP BY fingerprint ORDER BY n DESC, fingerprint LIMIT ${sql.int(q.offset)}, ${sql.int(q.limit)}`,
    ),
    ch.select<{ n: string }>(`SELECT toString(uniqExact(fingerprint)) AS n FROM test_errors_v1 WHERE ${cond}`),
  ]);
  return {
    total: num(total[0]?.n),
    clusters: rows.map((r) => ({
      fingerprint: r.fingerprint, pattern: r.pattern, topFrame: r.frame, sample: r.sample, occurrences: num(r.n), tests: num(r.tests),
      runs: num(r.runs), flaky: num(r.flaky), firstAt: num(r.first), lastAt: num(r.last), exampleTests: r.examples,
    })),
  };
}
