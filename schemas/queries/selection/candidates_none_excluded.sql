-- candidates.sql when `excluded` is empty: the image ids need not even be read (a third of the
-- scan), which a test on an empty table would still do.
CREATE OR REPLACE TEMP MACRO candidates(rnd) AS TABLE
SELECT p.image_id, p.class_id, p.confidence, p.index, p.prob, p.probs, t.threshold,
       p.confidence >= CAST(t.threshold AS FLOAT) AS above,
       false AS is_excluded,
       floor(p.confidence * 100)::INTEGER AS i0
FROM predictions p JOIN class_thresholds t ON t.class_id = p.class_id
WHERE p.round = rnd AND p.split = 'unlabeled'
