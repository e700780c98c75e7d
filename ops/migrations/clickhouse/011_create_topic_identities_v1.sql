-- The ClickHouse projector's positions live in ClickHouse (projection_offsets_v1
-- and the rows' _offset), so the topic id they belong to lives here too, and
-- goes and comes with them (see ops/migrations/pg/019_create_topic_identities.sql).
-- The latest row per (consumer, topic) is the one in force.
CREATE TABLE IF NOT EXISTS topic_identities_v1 (
  consumer    String,
  topic       String,
  topic_id    String,
  recorded_ms UInt64
) ENGINE = ReplacingMergeTree(recorded_ms)
ORDER BY (consumer, topic)
