-- The most confident wrong pseudo labels
SELECT m.round, m.image_id, ct.name AS pseudo_label, i.true_label, m.confidence
FROM manifests m
JOIN images i ON i.image_id = m.image_id AND i.split = 'unlabeled'
JOIN classes ct ON ct.class_id = m.target
WHERE m.origin = 'pseudo' AND i.true_label IS NOT NULL AND ct.name <> i.true_label
ORDER BY m.confidence DESC
LIMIT 20
