WITH sel AS (
    SELECT m.image_id, m.confidence, row_number() OVER (ORDER BY m.confidence DESC, m.image_id) AS r,
           count(*) OVER () AS n
    FROM manifests m WHERE m.round = $round AND m.origin = 'pseudo' AND m.target = $class_id
)
SELECT CASE WHEN r <= $k THEN 'high' WHEN r > n - $k THEN 'threshold' ELSE 'medium' END AS bucket,
       s.image_id, s.confidence, any_value(i.true_label) AS true_label, any_value(i.path) AS path,
       any_value(i.shard) AS shard, any_value(i.member_offset) AS member_offset, any_value(i.bytes) AS bytes
FROM sel s JOIN images i ON i.image_id = s.image_id AND i.split = 'unlabeled'
WHERE r <= $k OR r > n - $k OR abs(r - n / 2) < $k / 2
GROUP BY ALL ORDER BY s.confidence DESC
