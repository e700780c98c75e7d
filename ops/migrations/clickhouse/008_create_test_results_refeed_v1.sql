-- A table that stores nothing (engine Null) with the columns of test_results_v1.
-- The per-day aggregates (009, 010) have a second materialised view on it, the
-- twin of the one on test_results_v1: after a run is deleted, the projector
-- deletes the aggregate rows of the days it touched and inserts those days'
-- remaining results here, which recomputes them. (ClickHouse 18.16 does not
-- cascade materialised views, so test_results_v1 cannot feed through it.)
CREATE TABLE IF NOT EXISTS test_results_refeed_v1 AS test_results_v1 ENGINE = Null
