-- Excluded unlabeled images per predicted class, each under the first rule that removes it
-- (the order of plabel.dedup.rows.RULES).
WITH first_rule AS (
    SELECT image_id,
           min(CASE WHEN kind = 'exact' THEN 0
                    WHEN held_out(scope) AND kind = 'pixels' THEN 1
                    WHEN held_out(scope) THEN 2
                    WHEN kind = 'pixels' THEN 3 ELSE 4 END) AS rule
    FROM duplicates WHERE round = $round AND excluded GROUP BY image_id
)
SELECT p.class_id, f.rule, count(*) AS images
FROM first_rule f JOIN predictions p ON p.image_id = f.image_id AND p.round = $round AND p.split = 'unlabeled'
GROUP BY ALL ORDER BY ALL
