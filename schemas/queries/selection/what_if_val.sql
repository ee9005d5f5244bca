-- Per threshold of `grid` and predicted class: round `round`'s labeled val predictions
-- (selection/val_rows) at or above it, and how many are right (the estimate --threshold auto bounds).
SELECT g.t, v.class_id, count(*) AS n, count(*) FILTER (v.correct) AS right_ones
FROM grid g JOIN val_rows($round) v ON v.confidence >= CAST(g.t AS FLOAT)
GROUP BY ALL
