-- The candidates that may be selected, with their eligible bin (binned.sql).
CREATE OR REPLACE TEMP MACRO eligible(rnd) AS TABLE
SELECT * EXCLUDE (i, above, is_excluded, threshold)
FROM binned(rnd) WHERE above AND NOT is_excluded
