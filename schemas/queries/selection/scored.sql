-- Round `rnd`'s unlabeled predictions with their class's threshold (the `class_thresholds` table:
-- one value for all, or --threshold auto's per class), whether each clears it (compared in float32,
-- as confidences are stored), and its first histogram bin. candidates.sql adds whether the image
-- may be used at all.
CREATE OR REPLACE TEMP MACRO scored(rnd) AS TABLE
SELECT p.image_id, p.class_id, p.confidence, p.index, p.prob, p.probs, t.threshold,
       p.confidence >= CAST(t.threshold AS FLOAT) AS above,
       floor(p.confidence * 100)::INTEGER AS i0
FROM predictions p JOIN class_thresholds t ON t.class_id = p.class_id
WHERE p.round = rnd AND p.split = 'unlabeled'
