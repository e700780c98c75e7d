-- One row per run lifecycle event (created, updated); a run's state is the fold
-- of its rows in offset order (its events share one partition).
CREATE TABLE IF NOT EXISTS runs_v1 (
  project_id    String,
  run_id        String,
  event_id      String,
  event_type    String,
  status        String,
  branch        String,
  commit_sha    String,
  ci_build_id   String,
  run_title     String,
  created_at    DateTime,
  updated_at    DateTime,
  duration_ms   Int64,
  total_tests   Int32,
  passed_tests  Int32,
  failed_tests  Int32,
  skipped_tests Int32,
  flaky_tests   Int32,
  _partition    UInt32,
  _offset       UInt64
) ENGINE = ReplacingMergeTree(_offset)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, run_id, _offset)
