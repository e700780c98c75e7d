-- Webhooks (issue 6): management rows written by the API (read-after-write,
-- audited), and the dispatcher's deliveries. Deliveries are write-side state of
-- a reactor, like quarantine_reactor_decisions: a replay of the read models
-- does not rebuild them (their ids are derived from (event, webhook), so a
-- dispatcher that reads the log again inserts nothing twice).
CREATE TABLE webhooks (
  id          text PRIMARY KEY,
  project_id  text NOT NULL,
  url         text NOT NULL,
  -- host:port of the url: the unit of the per-target circuit breaker and in-flight cap
  target      text NOT NULL,
  events      text[] NOT NULL,
  headers     jsonb NOT NULL DEFAULT '{}',
  -- kept in clear: it signs every delivery (HMAC needs the secret itself)
  secret      text NOT NULL,
  is_active   boolean NOT NULL DEFAULT true,
  -- threshold.breached bounds: { passRate?, flakyRate?, windowDays? }
  thresholds  jsonb,
  disabled_reason text,
  created_by  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_project_idx ON webhooks (project_id, created_at);

-- Which side of each bound a hook's project was on, as the dispatcher last
-- saw it: threshold.breached fires on crossing into a breach, once.
CREATE TABLE webhook_threshold_state (
  webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  metric     text NOT NULL,
  breached   boolean NOT NULL,
  value      double precision,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (webhook_id, metric)
);

CREATE TABLE webhook_deliveries (
  -- derived from (payload event id, webhook id): at most one delivery of an event to a hook
  id              text PRIMARY KEY,
  webhook_id      text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  project_id      text NOT NULL,
  event_id        text NOT NULL,
  event           text NOT NULL,
  -- the exact bytes sent on every attempt (the signature covers them)
  body            text NOT NULL,
  -- pending → delivered | failed (attempts exhausted) | disabled (410 or hook deactivated)
  status          text NOT NULL DEFAULT 'pending',
  attempts        int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  -- a sender's lease while it sends; an expired lease is claimed again (at-least-once)
  locked_until    timestamptz,
  last_status_code int,
  last_error      text,
  last_duration_ms int,
  response_excerpt text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, created_at DESC);

-- The offset of a result's test.reported event in its partition. A run's
-- events share a partition, so within a run this is log order, which is the
-- order the Postgres projector commits them in, and a replay gives the same
-- values. The live stream (GET /api/runs/:id/stream) resumes by it
-- (Last-Event-ID). Rows projected before this migration have -1 until a rebuild.
ALTER TABLE tests ADD COLUMN seq bigint NOT NULL DEFAULT -1;
CREATE INDEX tests_run_seq_idx ON tests (run_id, seq);

-- Scheduled digests: a cron expression in a time zone; next_run_at is claimed
-- with UPDATE … WHERE next_run_at = <the due time>, so a due time fires once
-- whatever the number of dispatcher instances, and one missed while none ran
-- fires once when one starts.
CREATE TABLE schedules (
  id          text PRIMARY KEY,
  project_id  text NOT NULL,
  name        text NOT NULL,
  cron        text NOT NULL,
  timezone    text NOT NULL,
  is_active   boolean NOT NULL DEFAULT true,
  next_run_at timestamptz,
  last_run_at timestamptz,
  created_by  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_project_idx ON schedules (project_id, created_at);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE is_active;
