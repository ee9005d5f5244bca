-- Round R's predictions of the pool, with where each image is read from (one images row per
-- image and split).
SELECT p.image_id, p.confidence, p.class_id, i.path, i.shard, i.member_offset, i.bytes
FROM predictions p LEFT JOIN images i ON i.image_id = p.image_id AND i.split = 'unlabeled'
WHERE p.round = $round AND p.split = 'unlabeled' ORDER BY p.image_id
