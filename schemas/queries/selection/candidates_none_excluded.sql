-- candidates.sql when `excluded` is empty: no image is excluded, so the image ids need not even be
-- read where nothing after needs them (a third of the scan), which a test on an empty table would
-- still do (DuckDB does not fold a constant CASE around the test away).
CREATE OR REPLACE TEMP MACRO candidates(rnd) AS TABLE
SELECT * EXCLUDE (i0), false AS is_excluded, i0
FROM scored(rnd)
