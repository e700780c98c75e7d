-- Every quarantine change of a test case as the log recorded it, one row per
-- test.quarantine_changed event (GET /api/tests/:id/quarantine-history).
-- `quarantines` keeps the current state; this keeps how it got there.
CREATE TABLE quarantine_history (
  event_id       text PRIMARY KEY,
  test_case_id   text NOT NULL,
  project_id     text NOT NULL,
  is_quarantined boolean NOT NULL,
  reason         text NOT NULL,
  mode           text NOT NULL,
  owner          text,
  expires_at     timestamptz,
  actor          text NOT NULL,
  changed_at     timestamptz NOT NULL
);
CREATE INDEX quarantine_history_case_idx ON quarantine_history (test_case_id, changed_at DESC, event_id DESC);
