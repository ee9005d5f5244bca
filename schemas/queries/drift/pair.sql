SELECT count(*) AS images,
       avg(CASE WHEN a.class_id <> b.class_id THEN 1.0 ELSE 0.0 END) AS flip_rate,
       avg(b.confidence - a.confidence) AS mean_confidence_change
FROM predictions a JOIN predictions b ON b.image_id = a.image_id
WHERE a.round = $round_a AND b.round = $round_b AND a.split = 'unlabeled'
