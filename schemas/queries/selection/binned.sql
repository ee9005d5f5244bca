-- Each candidate's histogram bin: the largest grid edge i/100 <= confidence, compared in float32.
CREATE OR REPLACE TEMP MACRO binned(rnd) AS TABLE
SELECT * EXCLUDE (i0),
       i0 + CASE WHEN CAST((i0 + 1) / 100 AS FLOAT) <= confidence THEN 1
                 WHEN CAST(i0 / 100 AS FLOAT) > confidence THEN -1 ELSE 0 END AS i
FROM candidates(rnd)
