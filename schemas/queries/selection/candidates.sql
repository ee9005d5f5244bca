-- Round `rnd`'s unlabeled predictions, whether each image may be used (it is not in `excluded`:
-- val/test images and contaminated or non-representative duplicates), whether it clears the
-- threshold (compared in float32, as confidences are stored), and its first histogram bin.
CREATE OR REPLACE TEMP MACRO candidates(rnd, threshold) AS TABLE
SELECT p.image_id, p.class_id, p.confidence, p.index, p.prob, p.probs,
       p.confidence >= CAST(threshold AS FLOAT) AS above,
       p.image_id IN (SELECT image_id FROM excluded) AS is_excluded,
       floor(p.confidence * 100)::INTEGER AS i0
FROM predictions p WHERE p.round = rnd AND p.split = 'unlabeled'
