-- The ingest side's own record of which runs exist and who owns them, written
-- before run.created is appended. It lets ingest answer "unknown run" and
-- "another project's run" synchronously, without waiting for a projection, and
-- carries the run context (branch, commit) that later events are enriched with.
-- It is write-side state, not a read model: a replay does not touch it.
CREATE TABLE ingest_runs (
  id          text PRIMARY KEY,
  project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  branch      text,
  commit_sha  text,
  created_at  timestamptz NOT NULL,
  deleted_at  timestamptz
);
CREATE INDEX ingest_runs_project_idx ON ingest_runs (project_id);
