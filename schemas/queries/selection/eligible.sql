-- The candidates that may be selected; edges at or below the threshold fall into its bin (-1).
CREATE OR REPLACE TEMP MACRO eligible(rnd, threshold) AS TABLE
SELECT * EXCLUDE (i, above, is_excluded),
       CASE WHEN CAST(i / 100 AS FLOAT) > CAST(threshold AS FLOAT) THEN i ELSE -1 END AS bin
FROM binned(rnd, threshold) WHERE above AND NOT is_excluded
