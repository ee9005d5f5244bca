-- The candidates that may be selected; edges at or below their class's threshold fall into its bin (-1).
CREATE OR REPLACE TEMP MACRO eligible(rnd) AS TABLE
SELECT * EXCLUDE (i, above, is_excluded, threshold),
       CASE WHEN CAST(i / 100 AS FLOAT) > CAST(threshold AS FLOAT) THEN i ELSE -1 END AS bin
FROM binned(rnd) WHERE above AND NOT is_excluded
