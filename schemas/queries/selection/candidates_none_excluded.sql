-- candidates.sql when `excluded` is empty: the image ids need not even be read (a third of the
-- scan), which a test on an empty table would still do.
CREATE OR REPLACE TEMP MACRO candidates(rnd, threshold) AS TABLE
SELECT p.image_id, p.class_id, p.confidence, p.index, p.prob, p.probs,
       p.confidence >= CAST(threshold AS FLOAT) AS above,
       false AS is_excluded,
       floor(p.confidence * 100)::INTEGER AS i0
FROM predictions p WHERE p.round = rnd AND p.split = 'unlabeled'
