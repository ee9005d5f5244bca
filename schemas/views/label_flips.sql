-- Images whose predicted class differs between two rounds: one row per image and pair of rounds
-- (round_a < round_b), with both labels (class ids and names) and both confidences.
SELECT a.image_id, a.split, a.round AS round_a, b.round AS round_b,
       a.class_id AS label_a, b.class_id AS label_b, ca.name AS name_a, cb.name AS name_b,
       a.confidence AS confidence_a, b.confidence AS confidence_b
FROM predictions a
JOIN predictions b ON b.image_id = a.image_id AND b.round > a.round
JOIN classes ca ON ca.class_id = a.class_id
JOIN classes cb ON cb.class_id = b.class_id
WHERE a.class_id <> b.class_id
