-- One scan gives the funnel and the histogram of the eligible rows. Each row carries its class's
-- threshold (the class_thresholds table), so the query takes no $threshold.
SELECT class_id, above, is_excluded,
       CASE WHEN above AND NOT is_excluded THEN
            CASE WHEN CAST(i / 100 AS FLOAT) > CAST(threshold AS FLOAT) THEN i ELSE -1 END END AS bin,
       count(*) AS n
FROM binned($round) GROUP BY ALL
