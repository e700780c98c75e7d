-- Projects deleted through the log (project.deleted). After each insert the
-- projector checks the batch's projects against this table and deletes rows of a
-- project deleted meanwhile, so a late or replayed event leaves nothing behind.
CREATE TABLE IF NOT EXISTS deleted_projects_v1 (
  project_id String,
  deleted_at DateTime,
  _partition UInt32,
  _offset    UInt64
) ENGINE = ReplacingMergeTree(_offset)
ORDER BY project_id
