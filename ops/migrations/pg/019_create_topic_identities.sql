-- Which incarnation of a topic a consumer's stored positions belong to: Kafka's
-- topic id (a UUID, new each time the topic is created). A projector whose
-- positions live in Postgres (projection_offsets) records it when it first
-- starts and compares it at every start (projections/kafka/topic-identity.ts):
-- positions of a deleted and re-created topic would skip the new topic's events
-- at or below them, so it refuses to start instead.
CREATE TABLE IF NOT EXISTS topic_identities (
  consumer    text        NOT NULL,   -- the projection whose positions these are
  topic       text        NOT NULL,
  topic_id    text        NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic)
);
