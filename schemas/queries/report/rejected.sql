SELECT 'rejected' AS bucket, p.image_id, p.confidence, any_value(i.true_label) AS true_label, any_value(i.path) AS path,
       any_value(i.shard) AS shard, any_value(i.member_offset) AS member_offset, any_value(i.bytes) AS bytes
FROM predictions p JOIN images i ON i.image_id = p.image_id AND i.split = 'unlabeled'
WHERE p.round = $round AND p.split = 'unlabeled' AND p.class_id = $class_id AND p.confidence < CAST($threshold AS FLOAT)
GROUP BY ALL ORDER BY p.confidence DESC LIMIT $k
