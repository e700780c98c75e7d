-- Per project, branch and UTC day: what the trend charts read (pass and flaky
-- rates, failures, duration quantiles, distinct tests and runs).
CREATE TABLE IF NOT EXISTS project_daily_v1 (
  project_id  String,
  branch      String,
  day         Date,
  executions  AggregateFunction(count),
  passed      AggregateFunction(countIf, UInt8),
  failed      AggregateFunction(countIf, UInt8),
  flaky       AggregateFunction(countIf, UInt8),
  skipped     AggregateFunction(countIf, UInt8),
  timed_out   AggregateFunction(countIf, UInt8),
  interrupted AggregateFunction(countIf, UInt8),
  duration_q  AggregateFunction(quantilesDeterministicIf(0.5, 0.95), UInt32, UInt64, UInt8),
  tests       AggregateFunction(uniqExact, String),
  runs        AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, branch, day)
-- ;
-- The view below and its twin on test_results_refeed_v1 must stay identical.
CREATE MATERIALIZED VIEW IF NOT EXISTS project_daily_mv_v1 TO project_daily_v1 AS
SELECT project_id, branch, toDate(started_at) AS day,
  countState() AS executions,
  countIfState(status = 'passed') AS passed, countIfState(status = 'failed') AS failed,
  countIfState(status = 'flaky') AS flaky, countIfState(status = 'skipped') AS skipped,
  countIfState(status = 'timedOut') AS timed_out, countIfState(status = 'interrupted') AS interrupted,
  quantilesDeterministicIfState(0.5, 0.95)(duration_ms, sipHash64(test_id), status IN ('passed', 'flaky')) AS duration_q,
  uniqExactState(test_case_id) AS tests, uniqExactState(run_id) AS runs
FROM test_results_v1
GROUP BY project_id, branch, day
-- ;
CREATE MATERIALIZED VIEW IF NOT EXISTS project_daily_refeed_mv_v1 TO project_daily_v1 AS
SELECT project_id, branch, toDate(started_at) AS day,
  countState() AS executions,
  countIfState(status = 'passed') AS passed, countIfState(status = 'failed') AS failed,
  countIfState(status = 'flaky') AS flaky, countIfState(status = 'skipped') AS skipped,
  countIfState(status = 'timedOut') AS timed_out, countIfState(status = 'interrupted') AS interrupted,
  quantilesDeterministicIfState(0.5, 0.95)(duration_ms, sipHash64(test_id), status IN ('passed', 'flaky')) AS duration_q,
  uniqExactState(test_case_id) AS tests, uniqExactState(run_id) AS runs
FROM test_results_refeed_v1
GROUP BY project_id, branch, day
