-- Retention (ops/housekeeping/housekeeper.ts): a run past its project's
-- dataRetentionDays is marked deleted here with expiry_pending, then its
-- run.deleted is appended to the log, then expiry_pending is cleared. A
-- housekeeper that crashes in between finds the pending runs on its next sweep
-- and appends their run.deleted again (the same derived event id; deleting is
-- idempotent in every projection).
ALTER TABLE ingest_runs ADD COLUMN expiry_pending boolean NOT NULL DEFAULT false;
CREATE INDEX ingest_runs_retention_idx ON ingest_runs (project_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX ingest_runs_expiry_pending_idx ON ingest_runs (id) WHERE expiry_pending;
