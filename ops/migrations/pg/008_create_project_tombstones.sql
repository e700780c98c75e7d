-- A read model of the Postgres projection: projects deleted through the log
-- (project.deleted). A project's events are spread over partitions (keyed by
-- run), so some may be applied after its deletion, in a live race or in a
-- replay; the projector drops every event of a project recorded here.
CREATE TABLE project_tombstones (
  project_id text PRIMARY KEY,
  deleted_at timestamptz NOT NULL
);
