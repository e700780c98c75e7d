-- One row per test execution. `_partition`/`_offset` record where in the log the
-- row came from: the projector resumes from them, so a replayed batch is skipped
-- instead of inserted twice (DESIGN §4).
CREATE TABLE IF NOT EXISTS test_results_v1 (
  project_id     String,
  test_case_id   String,
  test_id        String,
  run_id         String,
  event_id       String,
  title          String,
  full_title     String,
  file_path      String,
  variant        String,
  status         Enum8('passed' = 1, 'failed' = 2, 'skipped' = 3, 'flaky' = 4, 'timedOut' = 5, 'interrupted' = 6),
  duration_ms    UInt32,
  retries        UInt16,
  attempt        UInt16,
  is_flaky       UInt8,
  branch         String,
  commit_sha     String,
  error_message  String,
  started_at     DateTime,
  created_at_ms  UInt64,
  run_created_at DateTime,
  _partition     UInt32,
  _offset        UInt64
) ENGINE = ReplacingMergeTree(_offset)
PARTITION BY toYYYYMM(started_at)
ORDER BY (project_id, test_case_id, started_at, test_id)
