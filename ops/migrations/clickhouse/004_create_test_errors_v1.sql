-- One row per test execution that carried an error: the final error, or for a
-- result that passed on a retry the error of its last failed attempt. Written by
-- the ClickHouse projector (the normalisation into a fingerprint is TypeScript:
-- projections/clickhouse/tables/test-errors.ts), with the log position it came from.
CREATE TABLE IF NOT EXISTS test_errors_v1 (
  project_id      String,
  test_case_id    String,
  test_id         String,
  run_id          String,
  event_id        String,
  status          Enum8('passed' = 1, 'failed' = 2, 'skipped' = 3, 'flaky' = 4, 'timedOut' = 5, 'interrupted' = 6),
  from_attempt    UInt8,
  branch          String,
  commit_sha      String,
  started_at      DateTime,
  fingerprint     String,
  message_pattern String,
  top_frame       String,
  sample_message  String,
  _partition      UInt32,
  _offset         UInt64
) ENGINE = ReplacingMergeTree(_offset)
PARTITION BY toYYYYMM(started_at)
ORDER BY (project_id, started_at, test_id)
