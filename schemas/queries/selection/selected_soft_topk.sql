-- Soft targets from the stored top-k: the distribution sharpened by 1/T, renormalised.
CREATE OR REPLACE TEMP TABLE selected AS
WITH soft AS (
    SELECT image_id, class_id, confidence, copies, index AS target_index,
           list_transform(prob, lambda p: pow(p, $inv_t)) AS w
    FROM pseudo($round, $per_class, $seed)
)
SELECT image_id, class_id, confidence, copies, target_index,
       list_transform(w, lambda v: CAST(v / list_sum(w) AS FLOAT)) AS target_prob
FROM soft
