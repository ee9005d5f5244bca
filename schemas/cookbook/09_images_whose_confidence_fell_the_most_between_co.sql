-- Images whose confidence fell the most between consecutive rounds
SELECT a.image_id, a.round AS round_a, a.confidence AS before, b.confidence AS after,
       b.confidence - a.confidence AS change
FROM predictions a
JOIN predictions b ON b.image_id = a.image_id AND b.round = a.round + 1
WHERE a.split = 'unlabeled'
ORDER BY change
LIMIT 20
