SELECT p.image_id, p.confidence, p.class_id,
       (SELECT any_value(i.path ORDER BY i.path) FROM images i WHERE i.image_id = p.image_id AND i.split = 'unlabeled') AS path
FROM predictions p WHERE p.round = $round AND p.split = 'unlabeled' ORDER BY p.image_id
