-- test_results_v1 again, ordered by run: a run's results without scanning the
-- project (run comparison, incident runs). Filled by a materialised view in the
-- same INSERT as test_results_v1, so it follows the projector's exactly-once
-- positions; a run deletion deletes its rows by run_id.
CREATE TABLE IF NOT EXISTS run_results_v1 (
  project_id    String,
  run_id        String,
  test_case_id  String,
  test_id       String,
  title         String,
  full_title    String,
  file_path     String,
  variant       String,
  status        Enum8('passed' = 1, 'failed' = 2, 'skipped' = 3, 'flaky' = 4, 'timedOut' = 5, 'interrupted' = 6),
  duration_ms   UInt32,
  retries       UInt16,
  branch        String,
  commit_sha    String,
  error_message String,
  started_at    DateTime,
  _partition    UInt32,
  _offset       UInt64
) ENGINE = ReplacingMergeTree(_offset)
PARTITION BY toYYYYMM(started_at)
ORDER BY (project_id, run_id, test_case_id, test_id)
-- ;
CREATE MATERIALIZED VIEW IF NOT EXISTS run_results_mv_v1 TO run_results_v1 AS
SELECT project_id, run_id, test_case_id, test_id, title, full_title, file_path, variant, status, duration_ms, retries,
  branch, commit_sha, substring(error_message, 1, 1000) AS error_message, started_at, _partition, _offset
FROM test_results_v1
