-- Write-side state of ingest at scale (docs/ingest.md). Like ingest_runs, none of
-- it is a read model: a replay of the log does not touch it.

-- Idempotency-Key (Fusillade reference): a request's key is claimed by inserting
-- its row before any work is done, so two concurrent requests with one key
-- cannot both create; the response is stored once the work succeeded and is
-- replayed for the same key within the TTL (24 h by default).
CREATE TABLE idempotency_keys (
  scope        text NOT NULL,         -- the caller: api_key:<id> or user:<id>
  key          text NOT NULL,
  fingerprint  text NOT NULL,         -- SHA-256 of method, path, query and body
  owner        text,                  -- the claim of the request doing the work; NULL once done
  locked_until timestamptz,           -- a claim abandoned by a crashed process can be taken over after this
  status       int,
  headers      jsonb,
  body         text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Shards of one CI build merge into one run: the same project + ciBuildId with a
-- shardTotal maps to one run id (at most one such run per build).
ALTER TABLE ingest_runs ADD COLUMN ci_build_id text, ADD COLUMN shard_total int;
CREATE UNIQUE INDEX ingest_runs_build_key ON ingest_runs (project_id, ci_build_id) WHERE shard_total IS NOT NULL;

-- What each shard of a merged run reported when it finished; the run finishes
-- when every shard did.
CREATE TABLE ingest_run_shards (
  run_id     text NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
  shard      int  NOT NULL,
  status     text NOT NULL,
  stats      jsonb,
  duration   int,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (run_id, shard)
);
