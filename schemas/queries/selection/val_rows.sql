-- Round `rnd`'s predictions on labeled val images: predicted class, confidence, and whether the
-- prediction is the label. The evidence of --threshold auto and of the what-if.
CREATE OR REPLACE TEMP MACRO val_rows(rnd) AS TABLE
SELECT p.image_id, p.class_id, p.confidence, p.class_id = c.class_id AS correct
FROM predictions p
JOIN (SELECT DISTINCT image_id, label FROM images WHERE split = 'val') i ON i.image_id = p.image_id
JOIN classes c ON c.name = i.label
WHERE p.round = rnd AND p.split = 'val'
