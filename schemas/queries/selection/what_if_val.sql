-- Per threshold of `grid` and predicted class: round `round`'s labeled val predictions at or above
-- it, and how many are right (the estimate --threshold auto bounds).
WITH val AS (
    SELECT p.class_id, p.confidence, p.class_id = c.class_id AS correct
    FROM predictions p
    JOIN (SELECT DISTINCT image_id, label FROM images WHERE split = 'val') i ON i.image_id = p.image_id
    JOIN classes c ON c.name = i.label
    WHERE p.round = $round AND p.split = 'val'
)
SELECT g.t, v.class_id, count(*) AS n, count(*) FILTER (v.correct) AS right_ones
FROM grid g JOIN val v ON v.confidence >= CAST(g.t AS FLOAT)
GROUP BY ALL
