-- none: every eligible row once.
CREATE OR REPLACE TEMP MACRO pseudo(rnd, per_class, seed) AS TABLE
SELECT image_id, class_id, confidence, index, prob, probs, 1 AS copies FROM eligible(rnd)
