-- Round `rnd`'s predictions on labeled held-out images: the val split, and the train images the
-- round's teacher was trained without (`train --holdout`; holdout/held_out first). Predicted
-- class, confidence, and whether the prediction is the label: the evidence of --threshold auto
-- and of the what-if.
CREATE OR REPLACE TEMP MACRO val_rows(rnd) AS TABLE
SELECT p.image_id, p.class_id, p.confidence, p.class_id = c.class_id AS correct
FROM predictions p
JOIN (SELECT DISTINCT image_id, label, 'val' AS split FROM images WHERE split = 'val'
      UNION SELECT image_id, label, 'train' AS split FROM held_out) i
  ON i.image_id = p.image_id AND i.split = p.split
JOIN classes c ON c.name = i.label
WHERE p.round = rnd
