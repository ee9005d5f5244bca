-- Val and test images with ground truth whose prediction changed correctness between two
-- rounds (round_a < round_b): kind = negative (right in round a, wrong in round b) or positive
-- (wrong, then right).
SELECT a.image_id, i.split, a.round AS round_a, b.round AS round_b, t.class_id AS true_class,
       i.label AS true_name, a.class_id AS label_a, b.class_id AS label_b,
       a.confidence AS confidence_a, b.confidence AS confidence_b,
       CASE WHEN a.class_id = t.class_id THEN 'negative' ELSE 'positive' END AS kind
FROM predictions a
JOIN predictions b ON b.image_id = a.image_id AND b.round > a.round
JOIN images i ON i.image_id = a.image_id AND held_out(i.split)
JOIN classes t ON t.name = i.label
WHERE (a.class_id = t.class_id) <> (b.class_id = t.class_id)
