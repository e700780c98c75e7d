-- The per-day duration quantiles, exact. 009 and 010 kept them as
-- quantilesDeterministic states, a sample of 8,192 values; on ClickHouse 18.16
-- that sample depends on the order the values arrived in and on how parts were
-- merged (a state written to disk keeps values its sampling had dropped), so a
-- replay of the log, which inserts the same results in other groups, gave other
-- quantiles: p50 717, 733 or 734 ms for one day of the same 150,000 results. A
-- quantilesExactWeighted state counts each distinct duration (in ms), which no
-- order changes; it is as cheap to insert.
--
-- Both tables are made again with it and filled from the facts through their
-- refeed views (as after a run deletion). Each statement can run again, so a
-- migration interrupted half-way is simply run again. Stop the ClickHouse
-- projector while it runs: a result inserted between the views' creation and
-- the refeed would be counted twice.
DROP TABLE IF EXISTS test_case_daily_mv_v1
-- ;
DROP TABLE IF EXISTS test_case_daily_refeed_mv_v1
-- ;
DROP TABLE IF EXISTS project_daily_mv_v1
-- ;
DROP TABLE IF EXISTS project_daily_refeed_mv_v1
-- ;
DROP TABLE IF EXISTS test_case_daily_v1
-- ;
DROP TABLE IF EXISTS project_daily_v1
-- ;
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
  duration_q   AggregateFunction(quantilesExactWeightedIf(0.5, 0.95), UInt32, UInt8, UInt8),
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
  quantilesExactWeightedIfState(0.5, 0.95)(duration_ms, toUInt8(1), status IN ('passed', 'flaky')) AS duration_q,
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
  quantilesExactWeightedIfState(0.5, 0.95)(duration_ms, toUInt8(1), status IN ('passed', 'flaky')) AS duration_q,
  maxState(started_at) AS last_at
FROM test_results_refeed_v1
GROUP BY project_id, test_case_id, branch, day
-- ;
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
  duration_q  AggregateFunction(quantilesExactWeightedIf(0.5, 0.95), UInt32, UInt8, UInt8),
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
  quantilesExactWeightedIfState(0.5, 0.95)(duration_ms, toUInt8(1), status IN ('passed', 'flaky')) AS duration_q,
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
  quantilesExactWeightedIfState(0.5, 0.95)(duration_ms, toUInt8(1), status IN ('passed', 'flaky')) AS duration_q,
  uniqExactState(test_case_id) AS tests, uniqExactState(run_id) AS runs
FROM test_results_refeed_v1
GROUP BY project_id, branch, day
-- ;
INSERT INTO test_results_refeed_v1 SELECT * FROM test_results_v1
