-- Per test case, branch and UTC day: counts by status, duration quantiles of the
-- executions that passed, last execution. Flakiness (counts of the test cases
-- with no failure), leaderboards and per-test trends read this instead of the
-- results. Exact under replays because the projector never inserts a result twice;
-- quantilesDeterministic makes the quantiles independent of merge order.
CREATE TABLE IF NOT EXISTS test_case_daily_v1 (
  project_id   String,
  test_case_id String,
  branch       String,
  day          Date,
  title        AggregateFunction(any, String),
  full_title   AggregateFunction(any, String),
  file_path    AggregateFunction(any, String),
  executions   AggregateFunction(count),
  passed       AggregateFunction(countIf, UInt8),
  failed       AggregateFunction(countIf, UInt8),
  flaky        AggregateFunction(countIf, UInt8),
  skipped      AggregateFunction(countIf, UInt8),
  timed_out    AggregateFunction(countIf, UInt8),
  interrupted  AggregateFunction(countIf, UInt8),
  duration_q   AggregateFunction(quantilesDeterministicIf(0.5, 0.95), UInt32, UInt64, UInt8),
  last_at      AggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, test_case_id, branch, day)
-- ;
-- The view below and its twin on test_results_refeed_v1 must stay identical.
CREATE MATERIALIZED VIEW IF NOT EXISTS test_case_daily_mv_v1 TO test_case_daily_v1 AS
SELECT project_id, test_case_id, branch, toDate(started_at) AS day,
  anyState(title) AS title, anyState(full_title) AS full_title, anyState(file_path) AS file_path,
  countState() AS executions,
  countIfState(status = 'passed') AS passed, countIfState(status = 'failed') AS failed,
  countIfState(status = 'flaky') AS flaky, countIfState(status = 'skipped') AS skipped,
  countIfState(status = 'timedOut') AS timed_out, countIfState(status = 'interrupted') AS interrupted,
  quantilesDeterministicIfState(0.5, 0.95)(duration_ms, sipHash64(test_id), status IN ('passed', 'flaky')) AS duration_q,
  maxState(started_at) AS last_at
FROM test_results_v1
GROUP BY project_id, test_case_id, branch, day
-- ;
CREATE MATERIALIZED VIEW IF NOT EXISTS test_case_daily_refeed_mv_v1 TO test_case_daily_v1 AS
SELECT project_id, test_case_id, branch, toDate(started_at) AS day,
  anyState(title) AS title, anyState(full_title) AS full_title, anyState(file_path) AS file_path,
  countState() AS executions,
  countIfState(status = 'passed') AS passed, countIfState(status = 'failed') AS failed,
  countIfState(status = 'flaky') AS flaky, countIfState(status = 'skipped') AS skipped,
  countIfState(status = 'timedOut') AS timed_out, countIfState(status = 'interrupted') AS interrupted,
  quantilesDeterministicIfState(0.5, 0.95)(duration_ms, sipHash64(test_id), status IN ('passed', 'flaky')) AS duration_q,
  maxState(started_at) AS last_at
FROM test_results_refeed_v1
GROUP BY project_id, test_case_id, branch, day
