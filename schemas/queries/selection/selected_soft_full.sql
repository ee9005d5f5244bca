-- Soft targets from the stored full probability vector: sharpened by 1/T, renormalised.
CREATE OR REPLACE TEMP TABLE selected AS
WITH soft AS (
    SELECT image_id, class_id, confidence, copies, CAST(range(0, len(probs)) AS INTEGER[]) AS target_index,
           list_transform(probs, lambda p: pow(p, $inv_t)) AS w
    FROM pseudo($round, $per_class, $seed)
)
SELECT image_id, class_id, confidence, copies, target_index,
       list_transform(w, lambda v: CAST(v / list_sum(w) AS FLOAT)) AS target_prob
FROM soft
