-- The auto-quarantine reactor's own record of the changes it appended, so it
-- does not append the same change again while the quarantines read model has
-- not caught up with it yet. Write-side state of a reactor, like ingest_runs:
-- a replay of the read models does not rebuild it, and does not need to.
CREATE TABLE quarantine_reactor_decisions (
  test_case_id   text PRIMARY KEY,
  project_id     text NOT NULL,
  is_quarantined boolean NOT NULL,
  event_id       text NOT NULL,
  decided_at     timestamptz NOT NULL
);
