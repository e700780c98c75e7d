-- Each project's flakiness scores as the flakiness projection last computed
-- them (projections/flakiness): what GET /api/flakiness serves when they are
-- current (same day, same scoring version, same settings). Derived from the
-- ClickHouse facts, not from events: a project's rows are replaced whole each
-- time it is scored, and dropping them only sends reads to the live path until
-- the next scoring.
CREATE TABLE flakiness_snapshots (
  project_id      text PRIMARY KEY,
  as_of_day       int NOT NULL,         -- UTC day number (unix seconds / 86400) the scores are as of
  from_day        int NOT NULL,         -- first day of the window
  scoring_version text NOT NULL,
  params          jsonb NOT NULL,       -- the FlakinessParams they were computed with
  incident_runs   int NOT NULL,
  scored_at       timestamptz NOT NULL
);

CREATE TABLE flakiness_scores (
  project_id          text NOT NULL,
  test_case_id        text NOT NULL,
  score               double precision NOT NULL,
  lower_bound         double precision NOT NULL,
  upper_bound         double precision NOT NULL,
  classification      text NOT NULL,
  last_at             bigint NOT NULL,  -- unix seconds of its latest execution in the window
  incident_executions int NOT NULL,
  evidence            jsonb NOT NULL,
  PRIMARY KEY (project_id, test_case_id)
);
