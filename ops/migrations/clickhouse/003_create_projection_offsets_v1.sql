-- The last offset the ClickHouse projector fully applied per partition, written
-- after each batch's inserts. It covers what the tables' own _offset columns
-- cannot show: events that wrote no row, and rows a delete removed.
CREATE TABLE IF NOT EXISTS projection_offsets_v1 (
  projection String,
  topic      String,
  partition  UInt32,
  offset     UInt64,
  updated_at DateTime
) ENGINE = ReplacingMergeTree(offset)
ORDER BY (projection, topic, partition)
