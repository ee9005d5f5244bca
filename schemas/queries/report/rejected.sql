SELECT 'rejected' AS bucket, p.image_id, p.confidence, any_value(i.path) AS path, any_value(i.true_label) AS true_label
FROM predictions p JOIN images i ON i.image_id = p.image_id AND i.split = 'unlabeled'
WHERE p.round = $round AND p.split = 'unlabeled' AND p.class_id = $class_id AND p.confidence < CAST($threshold AS FLOAT)
GROUP BY ALL ORDER BY p.confidence DESC LIMIT $k
