-- Round `round`'s predictions on labeled val images: predicted class, confidence, and whether the
-- prediction is the label (--threshold auto's evidence).
SELECT p.class_id, p.confidence, p.class_id = c.class_id AS correct
FROM predictions p
JOIN (SELECT DISTINCT image_id, label FROM images WHERE split = 'val') i ON i.image_id = p.image_id
JOIN classes c ON c.name = i.label
WHERE p.round = $round AND p.split = 'val'
ORDER BY p.class_id, p.confidence DESC, p.image_id
