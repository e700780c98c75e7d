-- A test case's row is its identity (id, project, title, file, full title,
-- variant), written by the first result stored for it. The first/last seen
-- times and the last result were rewritten by every result and read by no
-- query: a result's outcome is in tests and in ClickHouse. Updating them was
-- the most expensive statement of the Postgres projection's batches
-- (docs/scaling.md, session 10).
ALTER TABLE test_cases
  DROP COLUMN first_seen_at,
  DROP COLUMN last_seen_at,
  DROP COLUMN last_test_id,
  DROP COLUMN last_status;
