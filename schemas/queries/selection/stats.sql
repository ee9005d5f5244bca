-- One scan gives the funnel and the histogram of the eligible rows (their bins: binned.sql). Each
-- row carries its class's threshold (the class_thresholds table), so the query takes no $threshold.
SELECT class_id, above, is_excluded, bin, count(*) AS n
FROM binned($round) GROUP BY ALL
