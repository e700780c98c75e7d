-- Every stored result updates its test case's row (last seen, last result):
-- the most updated rows of the read model. With pages filled to 70 % an update
-- finds room on its own page and, touching no indexed column, is a HOT update
-- that writes no index entry. In-process (bench/projectors) the batch upsert
-- took 40 % less time than with full pages (docs/scaling.md, session 10).
-- Only pages written from now on keep the room; VACUUM FULL test_cases
-- rewrites the existing ones.
ALTER TABLE test_cases SET (fillfactor = 70);
