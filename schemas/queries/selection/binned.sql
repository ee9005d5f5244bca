-- Each candidate's histogram bin `i`: the largest grid edge i/100 <= confidence, compared in float32.
-- And its eligible bin `bin` where it may be selected (above its class's threshold, not excluded;
-- NULL otherwise): edges at or below the class's threshold fall into its bin (-1). The one place
-- of this rule: the funnel's histogram (stats.sql) and the selection (eligible.sql) both read it.
CREATE OR REPLACE TEMP MACRO binned(rnd) AS TABLE
WITH b AS (
    SELECT * EXCLUDE (i0),
           i0 + CASE WHEN CAST((i0 + 1) / 100 AS FLOAT) <= confidence THEN 1
                     WHEN CAST(i0 / 100 AS FLOAT) > confidence THEN -1 ELSE 0 END AS i
    FROM candidates(rnd)
)
SELECT *,
       CASE WHEN above AND NOT is_excluded THEN
            CASE WHEN CAST(i / 100 AS FLOAT) > CAST(threshold AS FLOAT) THEN i ELSE -1 END END AS bin
FROM b
