-- Round R's manifest: the labeled rows (unless --no-labeled), then the selected pseudo rows.
SELECT * FROM labeled_rows WHERE $include_labeled
UNION ALL
SELECT t.image_id, i.path, 'pseudo' AS origin, t.class_id AS target, t.target_index, t.target_prob,
       t.copies, CAST(1.0 AS FLOAT) AS weight, t.confidence
FROM selected t JOIN images i ON i.image_id = t.image_id AND i.split = 'unlabeled'
ORDER BY image_id, origin
