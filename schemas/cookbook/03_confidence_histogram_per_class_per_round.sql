-- Confidence histogram per class per round
SELECT round, c.name, floor(confidence * 10) / 10 AS bin, count(*) AS images
FROM predictions p JOIN classes c USING (class_id)
WHERE split = 'unlabeled'
GROUP BY ALL
ORDER BY round, c.name, bin
