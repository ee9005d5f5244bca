-- Per threshold of `grid` and predicted class: round `round`'s unlabeled images at or above it that
-- are not excluded by dedup, how many carry a withheld true label, and how many of those are right.
WITH pool AS (
    SELECT p.class_id, p.confidence, c.class_id AS true_class
    FROM predictions p
    LEFT JOIN (SELECT image_id, any_value(true_label) AS true_label FROM images
               WHERE split = 'unlabeled' GROUP BY image_id) i ON i.image_id = p.image_id
    LEFT JOIN classes c ON c.name = i.true_label
    WHERE p.round = $round AND p.split = 'unlabeled' AND p.image_id NOT IN (SELECT image_id FROM excluded)
)
SELECT g.t, k.class_id, count(p.class_id) AS images, count(p.true_class) AS with_truth,
       count(*) FILTER (p.true_class = p.class_id) AS right_ones
FROM grid g CROSS JOIN classes k
LEFT JOIN pool p ON p.class_id = k.class_id AND p.confidence >= CAST(g.t AS FLOAT)
GROUP BY ALL ORDER BY k.class_id, g.t
