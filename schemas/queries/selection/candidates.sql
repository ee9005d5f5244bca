-- Round `rnd`'s unlabeled predictions, whether each image may be used (it is not in `excluded`:
-- val/test images and contaminated or non-representative duplicates), its class's threshold (the
-- `class_thresholds` table: one value for all, or --threshold auto's per class), whether it clears
-- it (compared in float32, as confidences are stored), and its first histogram bin.
CREATE OR REPLACE TEMP MACRO candidates(rnd) AS TABLE
SELECT p.image_id, p.class_id, p.confidence, p.index, p.prob, p.probs, t.threshold,
       p.confidence >= CAST(t.threshold AS FLOAT) AS above,
       p.image_id IN (SELECT image_id FROM excluded) AS is_excluded,
       floor(p.confidence * 100)::INTEGER AS i0
FROM predictions p JOIN class_thresholds t ON t.class_id = p.class_id
WHERE p.round = rnd AND p.split = 'unlabeled'
