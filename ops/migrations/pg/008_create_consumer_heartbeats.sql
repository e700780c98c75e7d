-- Liveness of each projector instance's consume loop, written by the consumer
-- adapter at most every RUNLEDGER_HEARTBEAT_INTERVAL_MS; read by /health/deep,
-- which calls a projection with lag and no recent heartbeat unhealthy.
CREATE TABLE IF NOT EXISTS consumer_heartbeats (
  projection     text        NOT NULL,
  instance       text        NOT NULL,   -- host:pid
  last_batch_at  timestamptz,
  last_commit_at timestamptz,
  updated_at     timestamptz NOT NULL,   -- last sign of life of the loop (a fetch, a batch, a commit)
  PRIMARY KEY (projection, instance)
);
