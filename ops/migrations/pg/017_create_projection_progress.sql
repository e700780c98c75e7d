-- Progress and failures of each projection per partition of the event log,
-- written by every projector instance through its Heartbeat (at most every
-- RUNLEDGER_HEARTBEAT_INTERVAL_MS, at once on a failed batch). Unlike
-- consumer_heartbeats (one row per live instance, removed on a graceful stop)
-- these rows outlive the processes: /health/deep and the API's /metrics read
-- when each partition last committed and how often its batches failed, whatever
-- instance did it.
CREATE TABLE IF NOT EXISTS projection_progress (
  projection     text        NOT NULL,
  partition      integer     NOT NULL,
  last_commit_at timestamptz,               -- the last offset commit of this partition
  failures       bigint      NOT NULL DEFAULT 0,  -- failed batch attempts, ever (a counter)
  retries        integer     NOT NULL DEFAULT 0,  -- failed attempts since the last commit
  last_error     text,
  last_error_at  timestamptz,
  updated_at     timestamptz NOT NULL,
  PRIMARY KEY (projection, partition)
);
-- ;
-- When an instance started: a projection that just started has had no chance
-- to commit yet, so /health/deep measures "nothing committed" from there.
ALTER TABLE consumer_heartbeats ADD COLUMN IF NOT EXISTS started_at timestamptz NOT NULL DEFAULT now();
