import { sql, type ClickHouse } from '../../lib/clickhouse.ts';
import type { Execution, FlakinessParams, Outcome } from '../analytics/flakiness/score.ts';
import { runStatsFrom } from './analytics.ts';

// The ClickHouse side of flakiness: which runs were infrastructure incidents,
// what the per-day aggregates say about every test case, and the execution
// sequences of the few test cases that failed or flaked. A test case that never
// failed needs nothing but its daily counts, so the expensive part reads only
// the rows of the test cases that can have evidence.

export type Scope = { projectId: string; branch?: string; fromDay: number; testCaseIds?: readonly string[] };

// Per test case over the window: executions (skipped and interrupted left out),
// the same weighted by their age (2^(-days/halfLife)), and failed-or-flaky ones.
export type CaseTotals = { executions: number; weighted: number; bad: number };
export type CaseCounts = CaseTotals & { testCaseId: string; lastAt: number };
export type CaseTitle = { title: string; fullTitle: string; filePath: string };

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
export async function incidentRuns(ch: ClickHouse, projectId: string, fromDay: number, p: FlakinessParams, src: { raw?: boolean } = {}): Promise<string[]> {
  const rows = await ch.select<{ run_id: string }>(
    `SELECT run_id FROM (${runStatsFrom(src)} WHERE project_id = ${sql.str(projectId)} GROUP BY run_id)
     WHERE last_at >= ${sql.int(fromDay * 86_400)} AND results - skipped >= ${sql.int(p.incidentMinResults)}
       AND (failed + timed_out + interrupted) * 10000 >= ${sql.int(Math.round(p.incidentFailureShare * 10000))} * (results - skipped)`,
  );
  return rows.map((r) => r.run_id).sort();
}

// Counts and maxima add up, so each aggregate row's own values are summed
// (finalizeAggregation) instead of merging states: a plain numeric GROUP BY per
// test case, with each day's weight applied on the way.
// The same arithmetic as decayWeight in score.ts (age clamped at 0).
function weightOf(dayExpr: string, asOfDay: number, halfLifeDays: number): string {
  const age = `greatest(0, ${sql.int(asOfDay)} - toInt64(${dayExpr}))`;
  return Number.isInteger(halfLifeDays)
    ? `pow(2, -${age} / ${sql.int(halfLifeDays)})`
    : `pow(2, -${age} * 1000 / ${sql.int(Math.round(halfLifeDays * 1000))})`;
}

export async function caseCounts(ch: ClickHouse, s: Scope, asOfDay: number, halfLifeDays: number): Promise<CaseCounts[]> {
  const n = `(finalizeAggregation(executions) - finalizeAggregation(skipped) - finalizeAggregation(interrupted))`;
  const rows = await ch.select<{ test_case_id: string; last_at: number; n: string; w: number; bad: string }>(
    `SELECT test_case_id, toUInt32(max(finalizeAggregation(last_at))) AS last_at, toString(sum(${n})) AS n,
       sum(${n} * ${weightOf('toUInt32(day)', asOfDay, halfLifeDays)}) AS w,
       toString(sum(finalizeAggregation(failed) + finalizeAggregation(timed_out) + finalizeAggregation(flaky))) AS bad
     FROM test_case_daily_v1 WHERE ${scopeWhere(s, 'day', fromDate(s.fromDay))}
     GROUP BY test_case_id`,
  );
  return rows.map((r) => ({ testCaseId: r.test_case_id, lastAt: Number(r.last_at), executions: Number(r.n), weighted: Number(r.w), bad: Number(r.bad) }));
}

// What incident runs contributed to those counts, to take it out again.
export async function incidentCounts(ch: ClickHouse, s: Scope, runIds: readonly string[], asOfDay: number, halfLifeDays: number): Promise<Map<string, CaseTotals>> {
  if (runIds.length === 0) return new Map();
  const rows = await ch.select<{ test_case_id: string; n: string; w: number; bad: string }>(
    `SELECT test_case_id, toString(count()) AS n, sum(${weightOf('toUInt32(toDate(started_at))', asOfDay, halfLifeDays)}) AS w,
       toString(countIf(status IN ('failed', 'timedOut', 'flaky'))) AS bad
     FROM run_results_v1 WHERE ${sql.inList('run_id', runIds)} AND ${scopeWhere(s, 'started_at', fromTime(s.fromDay))}
       AND status NOT IN ('skipped', 'interrupted')
     GROUP BY test_case_id`,
  );
  return new Map(rows.map((r) => [r.test_case_id, { executions: Number(r.n), weighted: Number(r.w), bad: Number(r.bad) }]));
}

// Titles of a few test cases (the page being shown).
export async function caseTitles(ch: ClickHouse, projectId: string, testCaseIds: readonly string[]): Promise<Map<string, CaseTitle>> {
  if (testCaseIds.length === 0) return new Map();
  const rows = await ch.select<{ test_case_id: string; title: string; full_title: string; file_path: string }>(
    `SELECT test_case_id, any(finalizeAggregation(title)) AS title, any(finalizeAggregation(full_title)) AS full_title,
       any(finalizeAggregation(file_path)) AS file_path
     FROM test_case_daily_v1 WHERE project_id = ${sql.str(projectId)} AND ${sql.inList('test_case_id', testCaseIds)} GROUP BY test_case_id`,
  );
  return new Map(rows.map((r) => [r.test_case_id, { title: r.title, fullTitle: r.full_title, filePath: r.file_path }]));
}

// The condition that leaves the given runs (incidents) out.
const outside = (runs: readonly string[]) => (runs.length ? `AND NOT ${sql.inList('run_id', runs)}` : '');

const OUTCOMES: Record<string, Outcome> = { P: 'pass', R: 'flaky', F: 'fail' };

// Each test case's executions in scope, outside the excluded runs, as one array
// in time order, the order evidenceOf reads them in: (started_at, created_at_ms,
// status (1 passed, 4 flaky, else failed), branch, commit, run, tie-break). The
// callers choose how branch, commit and run are carried, and may add aggregates
// of the same rows (`also`, ending in a comma).
function historiesSql(s: Scope, excludedRuns: readonly string[], carry: { branch: string; commit: string; run: string }, also = ''): string {
  return `SELECT test_case_id, ${also}
       arraySort(x -> (x.1, x.2, x.7), groupArray((toUInt32(started_at), created_at_ms, toUInt8(status), ${carry.branch},
         ${carry.commit}, ${carry.run}, cityHash64(test_id)))) AS e
     FROM test_results_v1
     WHERE ${scopeWhere(s, 'started_at', fromTime(s.fromDay))} AND status IN ('passed', 'failed', 'flaky', 'timedOut') ${outside(excludedRuns)}
     GROUP BY test_case_id`;
}

// The executions of the given test cases, outside incident runs, in time order.
// Compact, because a candidate can have thousands: sorted in ClickHouse, then
// outcomes as one string (P, R for a retry flake, F), times as differences,
// branch and commit as dense numbers per test case (only equality matters), and
// run id and commit in full only for the executions that did not simply pass.
// Without testCaseIds: every test case in scope (the benchmark's full scan).
export async function caseExecutions(ch: ClickHouse, s: Scope, excludedRuns: readonly string[]): Promise<Map<string, Execution[]>> {
  const out = new Map<string, Execution[]>();
  if (s.testCaseIds?.length === 0) return out;
  const rows = await ch.select<{ test_case_id: string; o: string; t0: number; dt: number[]; b: number[]; c: number[]; nf: Array<[string, string]> }>(
    `SELECT test_case_id, arrayStringConcat(arrayMap(x -> if(x.3 = 1, 'P', if(x.3 = 4, 'R', 'F')), e)) AS o,
       e[1].1 AS t0, arrayDifference(arrayMap(x -> x.1, e)) AS dt,
       arrayEnumerateDense(arrayMap(x -> x.4, e)) AS b,
       arrayMap((k, x) -> if(x.5 = '', 0, k), arrayEnumerateDense(arrayMap(x -> x.5, e)), e) AS c,
       arrayMap(x -> (x.6, x.5), arrayFilter(x -> x.3 != 1, e)) AS nf
     FROM (${historiesSql(s, excludedRuns, { branch: 'branch', commit: 'commit_sha', run: 'run_id' })})`,
    // Megabytes of small numbers: gzip costs more time than it saves on a local network.
    { max_query_size: 16 * 1024 * 1024, enable_http_compression: 0 },
  );
  for (const r of rows) {
    const executions: Execution[] = new Array(r.o.length);
    let t = Number(r.t0);
    let k = 0;
    for (let i = 0; i < r.o.length; i++) {
      t += Number(r.dt[i]);
      const outcome = OUTCOMES[r.o[i]!]!;
      const [runId, commitSha] = outcome === 'pass' ? ['', undefined] : r.nf[k++]!;
      executions[i] = { t, seq: String(i).padStart(8, '0'), outcome, branch: String(r.b[i]), commit: r.c[i] ? String(r.c[i]) : '', runId, commitSha };
    }
    out.set(r.test_case_id, executions);
  }
  return out;
}

// What evidenceOf needs of the given test cases, outside incident runs: the
// sparse history (sparseHistory in score.ts says which executions) and the
// commits that both passed and failed. ClickHouse sorts each history twice (in
// time order, and by branch then time), marks what to keep, and sends only that:
// a test case that failed a few times in thousands of executions costs a few rows.
// (Without window functions, which 18.16 lacks: arrays, indexed by position.)
export async function caseEvidence(ch: ClickHouse, s: Scope, excludedRuns: readonly string[]): Promise<Map<string, { executions: Execution[]; commitsWithPass: Set<string> }>> {
  const out = new Map<string, { executions: Execution[]; commitsWithPass: Set<string> }>();
  if (s.testCaseIds?.length === 0) return out;
  // e: each history in time order (historiesSql), branch as a hash, commit and
  // run only where they can matter (not passes). Neighbours come from shifted copies of an
  // array (arrayPushFront(arrayPopBack(…))), the branch order from sorting by
  // (branch, position) and the marks sorted back by position: a lambda that
  // indexed an array would copy it once per element.
  const fail = (a: string) => `arrayMap(x -> x != 1 AND x != 4, ${a})`;
  const prev = (a: string) => `arrayPushFront(arrayPopBack(${a}), 0)`;
  const next = (a: string) => `arrayPushBack(arrayPopFront(${a}), 0)`;
  const last = (a: string) => `arrayPushBack(arrayMap(x -> 0, arrayPopBack(${a})), 1)`;
  // Sent compactly (most kept rows are passes): outcomes as one string (P, R for a
  // retry flake, F), times and positions as differences, branches as dense
  // numbers, and commit and run only for what did not pass.
  const rows = await ch.select<{ test_case_id: string; cwp: string[]; o: string; t0: number; dt: number[]; p0: number; dp: number[]; b: number[]; nf: Array<[string, string]> }>(
    `SELECT test_case_id, cwp,
       arrayStringConcat(arrayMap(x -> if(x.3 = 1, 'P', if(x.3 = 4, 'R', 'F')), kept)) AS o,
       kept[1].1 AS t0, arrayDifference(arrayMap(x -> x.1, kept)) AS dt,
       at[1] AS p0, arrayDifference(at) AS dp,
       arrayEnumerateDense(arrayMap(x -> x.4, kept)) AS b,
       arrayMap(x -> (x.5, x.6), arrayFilter(x -> x.3 != 1, kept)) AS nf
     FROM (
     SELECT test_case_id, cwp, arrayFilter((x, a, b) -> a OR b, e, gm, bm) AS kept, arrayFilter((i, a, b) -> a OR b, idx, gm, bm) AS at
     FROM (
       SELECT test_case_id, cwp, e, idx,
         arrayMap((x, p, n, l) -> x != 1 OR p OR n OR l, st, ${prev('f')}, ${next('f')}, ${last('st')}) AS gm,
         arraySort((m, i) -> i,
           arrayMap((x, b, pb, nb, p, n, l) -> x != 1 OR (pb = b AND p) OR (nb = b AND n) OR nb != b OR l,
             bst, bbr, ${prev('bbr')}, ${next('bbr')}, ${prev('bf')}, ${next('bf')}, ${last('bst')}),
           bidx) AS bm
       FROM (
         SELECT test_case_id, cwp, e, idx, st, ${fail('st')} AS f,
           arraySort((i, b) -> (b, i), idx, br) AS bidx, arraySort((x, b, i) -> (b, i), st, br, idx) AS bst,
           arraySort((b, i) -> (b, i), br, idx) AS bbr, ${fail('bst')} AS bf
         FROM (
           SELECT test_case_id, cwp, e, arrayEnumerate(e) AS idx, arrayMap(x -> x.3, e) AS st, arrayMap(x -> x.4, e) AS br
           FROM (${historiesSql(s, excludedRuns, { branch: 'cityHash64(branch)', commit: "if(status = 'passed', '', commit_sha)", run: "if(status = 'passed', '', run_id)" },
             `arrayIntersect(groupUniqArrayIf(commit_sha, status IN ('passed', 'flaky') AND commit_sha != ''),
                groupUniqArrayIf(commit_sha, status IN ('failed', 'timedOut') AND commit_sha != '')) AS cwp,`)})
         )
       )
     )
     )`,
    // Tens of thousands of small tuples: gzip costs more time than it saves on a local network.
    { max_query_size: 16 * 1024 * 1024, enable_http_compression: 0 },
  );
  for (const r of rows) {
    const executions: Execution[] = new Array(r.o.length);
    let t = Number(r.t0);
    let position = Number(r.p0);
    let k = 0;
    for (let i = 0; i < r.o.length; i++) {
      t += Number(r.dt[i]);
      position += Number(r.dp[i]);
      const outcome = OUTCOMES[r.o[i]!]!;
      const [commit, runId] = outcome === 'pass' ? ['', ''] : r.nf[k++]!;
      executions[i] = { t, seq: String(position).padStart(10, '0'), outcome, branch: String(r.b[i]), commit, runId, commitSha: commit };
    }
    out.set(r.test_case_id, { executions, commitsWithPass: new Set(r.cwp) });
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
  const rows = await ch.select<{ test_case_id: string; t: string; s: string }>(
    `SELECT test_case_id, toString(created_at_ms) AS t, toString(status) AS s FROM test_results_v1
     WHERE project_id = ${sql.str(projectId)} AND ${sql.inList('test_case_id', testCaseIds)}
       AND status NOT IN ('skipped', 'interrupted') ${outside(excludedRuns)}
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
