// 10 million test results (2,000 tests × 5,000 runs over 90 days) in ClickHouse,
// then the p95 latency of the queries dashboards and CI gates make, each against
// the same answer computed by a full scan of the raw results table.
//
// The rows are generated inside ClickHouse (INSERT … SELECT FROM numbers()),
// into test_results_v1 with the real migrations: the same materialised views
// fire, so the aggregates are built exactly as when the projector inserts.
// (Pushing 10 M events through Kafka would measure ingest, which is not the point.)
import { loadConfig } from '../lib/config.ts';
import { ClickHouse, sql } from '../lib/clickhouse.ts';
import { migrateClickHouse } from '../lib/migrate.ts';
import { ensureClickHouseDatabase } from '../ops/setup.ts';
import { testResults } from '../domain/ch/test-results.ts';
import { caseExecutions, incidentRuns } from '../domain/ch/flakiness.ts';
import { resultBuckets } from '../domain/ch/analytics.ts';
import { scoreProject } from '../domain/analytics/flakiness/service.ts';
import { listFlakiness } from '../query-api/flakiness/list.ts';
import { flakinessScores } from '../domain/pg/flakiness-scores.ts';
import { startTestStack } from '../test/support/stack.ts';
import { DEFAULT_PARAMS, SCORING_VERSION, dayOf, evidenceOf, scoreOf } from '../domain/analytics/flakiness/score.ts';
import { compareRuns, type RunMeta } from '../domain/analytics/compare.ts';

const PROJECT = 'proj_BENCH10M0000000000000000';
const TESTS = 2000;
const RUNS = Number(process.env.BENCH_10M_RUNS ?? 5000);
const DAY = 86_400;

async function generate(ch: ClickHouse, now: number) {
  const span = 90 * DAY;
  const start = now - span;
  const gap = span / RUNS;
  const chunk = 250; // runs per INSERT
  for (let r0 = 0; r0 < RUNS; r0 += chunk) {
    const runs = Math.min(chunk, RUNS - r0);
    // r: run, t: test; u1, u2: uniform draws per (test, run).
    await ch.command(`INSERT INTO test_results_v1 (project_id, test_case_id, test_id, run_id, event_id, title, full_title, file_path, variant,
        status, duration_ms, retries, attempt, is_flaky, branch, commit_sha, error_message, started_at, created_at_ms, run_created_at, _partition, _offset)
      SELECT ${sql.str(PROJECT)}, concat('tc_bench_', toString(t)), concat('test_bench_', toString(r), '_', toString(t)), concat('run_bench_', toString(r)),
        concat('evt_bench_', toString(n)), concat('case ', toString(t)), concat('Area ', toString(t % 40), ' > case ', toString(t)),
        concat('tests/area-', toString(t % 40), '.spec.ts'), '',
        CAST(status AS Enum8('passed' = 1, 'failed' = 2, 'skipped' = 3, 'flaky' = 4, 'timedOut' = 5, 'interrupted' = 6)),
        toUInt32(200 + (t % 40) * 50 + cityHash64(t, r, 3) % 100), toUInt16(status = 'flaky'), toUInt16(1 + (status = 'flaky')), toUInt8(status = 'flaky'),
        branch, commit, if(status = 'failed', 'expected 200, got 500', ''), toDateTime(at), toUInt64(at) * 1000 + t,
        toDateTime(${sql.int(start)} + toUInt32(r * ${gap})), toUInt32(r % 6), toUInt64(n)
      FROM (
        SELECT n, t, r, at, branch, commit, u1, u2,
          multiIf(
            r % 97 = 11 AND u1 < 0.75, 'failed',                                   -- infrastructure incident
            t >= 1960 AND t < 1980 AND r >= ${sql.int(Math.floor(RUNS * 0.8))} + (t - 1960) * 40, 'failed', -- broken
            t % 100 = 7 AND u2 < 0.5, 'skipped',
            u1 < p, if(u2 < 0.85, 'flaky', 'failed'),
            'passed') AS status
        FROM (
          SELECT number + ${sql.int(r0 * TESTS)} AS n, number % ${TESTS} AS t, intDiv(number, ${TESTS}) + ${sql.int(r0)} AS r,
            ${sql.int(start)} + toUInt32(r * ${gap}) + t % 60 AS at,
            if(r % 7 = 3, concat('feature/', toString(r % 5)), 'main') AS branch,
            if(r % 7 = 3, concat('f', toString(r)), concat('m', toString(intDiv(r, 2)))) AS commit,
            (cityHash64(t, r, 1) % 1000000) / 1000000 AS u1, (cityHash64(t, r, 2) % 1000000) / 1000000 AS u2,
            multiIf(t >= 1760 AND t < 1960, 0.001 * pow(400, (t - 1760) / 200),     -- flaky, 0.1 % to 40 %
                    t >= 1980, if(r % 500 < 5, 0.5, 0.002), 0) AS p                 -- bursts
          FROM numbers(${sql.int(runs * TESTS)})
        )
      )`);
  }
  for (const t of ['test_results_v1', 'run_results_v1', 'run_stats_v1', 'test_case_daily_v1', 'project_daily_v1']) {
    await ch.command(`OPTIMIZE TABLE ${t} FINAL`);
  }
}

async function time<T>(fn: () => Promise<T>, n: number): Promise<{ ms: number[]; result: T }> {
  const ms: number[] = [];
  let result!: T;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    result = await fn();
    ms.push(performance.now() - t0);
  }
  return { ms: ms.sort((a, b) => a - b), result };
}
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const r1 = (x: number) => Math.round(x * 10) / 10;

export async function measureAnalytics10M(): Promise<unknown> {
  const config = loadConfig();
  const db = process.env.BENCH_10M_DB ?? 'rl_bench_10m';
  const cfg = { ...config, clickhouseDb: db };
  await ensureClickHouseDatabase(cfg);
  const ch = ClickHouse.connect(config.clickhouseUrl, db);
  await migrateClickHouse(ch);
  const now = Math.floor(Date.now() / 1000);
  const loaded = Number((await ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM test_results_v1 WHERE project_id = ${sql.str(PROJECT)}`))[0]!.n);
  let loadSeconds = 0;
  if (loaded !== RUNS * TESTS) {
    for (const t of ['test_results_v1', 'run_results_v1', 'run_stats_v1', 'test_case_daily_v1', 'project_daily_v1']) await ch.command(`TRUNCATE TABLE ${t}`);
    const t0 = Date.now();
    await generate(ch, now);
    loadSeconds = (Date.now() - t0) / 1000;
  }
  const n = Number(process.env.BENCH_10M_ITERATIONS ?? 30);
  const nFull = Number(process.env.BENCH_10M_FULL_ITERATIONS ?? 5);
  const asOf = new Date();
  const params = DEFAULT_PARAMS;
  const out: Record<string, unknown> = { rows: RUNS * TESTS, tests: TESTS, runs: RUNS, loadSeconds: r1(loadSeconds) };

  const report = async <A, B>(name: string, goalMs: number, fast: () => Promise<A>, full: () => Promise<B>, same: (a: A, b: B) => boolean) => {
    await fast(); // warm up
    const f = await time(fast, n);
    const s = await time(full, nFull);
    out[name] = {
      p50Ms: r1(pct(f.ms, 50)), p95Ms: r1(pct(f.ms, 95)), goalMs, fullScanP50Ms: r1(pct(s.ms, 50)), fullScanP95Ms: r1(pct(s.ms, 95)),
      ratio: Math.round((pct(f.ms, 95) / pct(s.ms, 95)) * 1000) / 1000, sameAnswer: same(f.result, s.result),
    };
    console.error(JSON.stringify({ [name]: out[name] }));
  };

  // 1. One test's history (last 20), by primary key / by a scan of every row.
  const tc = 'tc_bench_1850';
  await report('history', 50,
    () => testResults.history(ch, { projectId: PROJECT, testCaseId: tc, limit: 20, offset: 0 }),
    async () => {
      const cond = `project_id = ${sql.str(PROJECT)} AND concat(test_case_id, '') = ${sql.str(tc)}`; // defeats the primary key
      const [rows, count] = await Promise.all([
        ch.select<{ run_id: string }>(`SELECT run_id, test_id FROM test_results_v1 WHERE ${cond} ORDER BY started_at DESC, test_id DESC LIMIT 20`),
        ch.select<{ n: number }>(`SELECT toUInt32(count()) AS n FROM test_results_v1 WHERE ${cond}`),
      ]);
      return { runIds: rows.map((r) => r.run_id), total: Number(count[0]!.n) };
    },
    (a, b) => a.total === b.total && a.rows.map((r) => r.runId).join() === b.runIds.join());

  // 2. Flakiness top 50, as GET /api/flakiness answers it: from the scores the
  //    flakiness projection stored (Postgres) / every execution of every test
  //    case scored from the raw table. Scoring the project (what the projection
  //    does after each batch that changed it, and what a request with a branch
  //    filter does) is measured on its own.
  const top = <T extends { testCaseId: string; score: { score: number } }>(cases: T[]) =>
    [...cases].sort((x, y) => y.score.score - x.score.score || (x.testCaseId < y.testCaseId ? -1 : 1)).slice(0, 50);
  const fullScan = async () => {
    const asOfDay = dayOf(Math.floor(asOf.getTime() / 1000));
    const fromDay = asOfDay - params.windowDays + 1;
    const incidents = await incidentRuns(ch, PROJECT, fromDay, params, { raw: true });
    const all = await caseExecutions(ch, { projectId: PROJECT, fromDay }, incidents);
    const cases = [...all].map(([testCaseId, ex]) => {
      const evidence = evidenceOf(ex, asOfDay, params);
      return { testCaseId, evidence, score: scoreOf(evidence, params, false) };
    });
    const titles = new Map((await ch.select<{ id: string; title: string }>(
      `SELECT test_case_id AS id, any(title) AS title FROM test_results_v1 WHERE project_id = ${sql.str(PROJECT)} GROUP BY test_case_id`,
    )).map((r) => [r.id, r.title]));
    return { all: cases, top: top(cases).map((c) => ({ ...c, title: titles.get(c.testCaseId), score: scoreOf(c.evidence, params) })) };
  };
  const stack = await startTestStack();
  try {
    const scoring = await time(() => scoreProject(ch, PROJECT, asOf, params), Math.max(3, Math.round(n / 3)));
    await flakinessScores.replace(stack.pool, PROJECT, scoring.result, params, SCORING_VERSION, asOf);
    out.flakinessScoring = { p50Ms: r1(pct(scoring.ms, 50)), p95Ms: r1(pct(scoring.ms, 95)), testCases: scoring.result.cases.length };
    console.error(JSON.stringify({ flakinessScoring: out.flakinessScoring }));
    const stored = new Map((await flakinessScores.scores(stack.pool, PROJECT, params.credibleMass)).map((c) => [c.testCaseId, c.score]));
    const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
    await report('flakinessTop50', 250,
      () => listFlakiness(stack.pool, ch, PROJECT, { limit: 50, offset: 0 }, params, asOf),
      fullScan,
      (a, b) => a.source === 'snapshot' && a.data.length === 50 && b.all.length === stored.size
        // every stored score is the full scan's; the page shows the full scan's top 50
        && b.all.every((c) => Math.abs(stored.get(c.testCaseId)!.score - c.score.score) < 1e-12 && stored.get(c.testCaseId)!.classification === c.score.classification)
        && a.data.every((x, i) => x.testCaseId === b.top[i]!.testCaseId && x.testTitle === b.top[i]!.title && x.classification === b.top[i]!.score.classification
          && x.flakinessScore === round(b.top[i]!.score.score, 4) && x.interval.lower === round(b.top[i]!.score.interval.lower, 6)));
  } finally {
    await stack.stop();
  }

  // 3. A 90-day daily pass-rate trend: project_daily_v1 / the results.
  const fromDay = dayOf(now) - 89;
  await report('trend90d', 250,
    async () => (await resultBuckets(ch, { projectId: PROJECT, fromDay, week: false })).map((b) => [b.bucket, b.executions, b.passed]),
    async () => (await ch.select<{ d: number; n: string; p: string }>(
      `SELECT toUInt32(toDate(started_at)) AS d, toString(count()) AS n, toString(countIf(status = 'passed')) AS p FROM test_results_v1
       WHERE project_id = ${sql.str(PROJECT)} AND toDate(started_at) >= toDate(toDateTime(${sql.int(fromDay * DAY)})) GROUP BY d ORDER BY d`,
    )).map((r) => [Number(r.d), Number(r.n), Number(r.p)]),
    (a, b) => JSON.stringify(a) === JSON.stringify(b));

  // 4. Comparing the last run with the one before: run_results_v1 and run_stats_v1 / the results.
  const meta = (r: number): RunMeta => ({ id: `run_bench_${r}`, status: 'failed', branch: 'main', commitSha: null, createdAt: asOf.toISOString() });
  const [cur, base] = [RUNS - 1, RUNS - 2].map((r) => (r % 7 === 3 ? r - 1 : r)).map(meta) as [RunMeta, RunMeta];
  await report('runComparison', 250,
    () => compareRuns(ch, PROJECT, cur, base),
    () => compareRuns(ch, PROJECT, cur, base, { raw: true }),
    (a, b) => JSON.stringify(a) === JSON.stringify(b));

  if (!process.env.BENCH_10M_KEEP) await ch.command(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
  return out;
}
