-- A table that stores nothing (engine Null) with the columns of test_results_v1.
-- The per-day aggregates (008, 009) have a second materialised view on it, the
-- twin of the one on test_results_v1: after a run is deleted, the projector
-- deletes the aggregate rows of the days it touched and inserts those days'
-- remaining results here, which recomputes them. (ClickHouse 18.16 does not
-- cascade materialised views, so test_results_v1 cannot feed through it.)
CREATE TABLE IF NOT EXISTS test_results_refeed_v1 (
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
) ENGINE = Null
