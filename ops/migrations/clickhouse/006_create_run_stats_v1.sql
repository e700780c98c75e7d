-- Per-run counts of results by status, kept at write time: incident detection
-- (the share of a run's tests that failed) and run summaries read one row per run.
CREATE TABLE IF NOT EXISTS run_stats_v1 (
  project_id   String,
  run_id       String,
  branch       AggregateFunction(any, String),
  commit_sha   AggregateFunction(any, String),
  first_at     AggregateFunction(min, DateTime),
  last_at      AggregateFunction(max, DateTime),
  results      AggregateFunction(count),
  passed       AggregateFunction(countIf, UInt8),
  failed       AggregateFunction(countIf, UInt8),
  flaky        AggregateFunction(countIf, UInt8),
  skipped      AggregateFunction(countIf, UInt8),
  timed_out    AggregateFunction(countIf, UInt8),
  interrupted  AggregateFunction(countIf, UInt8),
  duration_sum AggregateFunction(sum, UInt32)
) ENGINE = AggregatingMergeTree
ORDER BY (project_id, run_id)
-- ;
CREATE MATERIALIZED VIEW IF NOT EXISTS run_stats_mv_v1 TO run_stats_v1 AS
SELECT project_id, run_id,
  anyState(branch) AS branch, anyState(commit_sha) AS commit_sha,
  minState(started_at) AS first_at, maxState(started_at) AS last_at,
  countState() AS results,
  countIfState(status = 'passed') AS passed, countIfState(status = 'failed') AS failed,
  countIfState(status = 'flaky') AS flaky, countIfState(status = 'skipped') AS skipped,
  countIfState(status = 'timedOut') AS timed_out, countIfState(status = 'interrupted') AS interrupted,
  sumState(duration_ms) AS duration_sum
FROM test_results_v1
GROUP BY project_id, run_id
