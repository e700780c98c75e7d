-- The write side's record of suites, as ingest_runs is of runs: a test's
-- suiteId and a suite's parentSuiteId must name a suite reported for the same
-- run, and ingest answers that synchronously, without waiting for a projection
-- (ingest/run-registry.ts). Suites reported before this table existed are
-- taken from the read model.
CREATE TABLE ingest_suites (
  run_id   text NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
  suite_id text NOT NULL,
  PRIMARY KEY (run_id, suite_id)
);
INSERT INTO ingest_suites (run_id, suite_id)
  SELECT s.run_id, s.id FROM suites s JOIN ingest_runs r ON r.id = s.run_id
  ON CONFLICT DO NOTHING;
