-- Soft targets: the teacher's distribution sharpened by 1/T and renormalised, from the stored top-k
-- (`index`, `prob`) or, with $full, from the stored full probability vector (`probs`).
CREATE OR REPLACE TEMP TABLE selected AS
WITH soft AS (
    SELECT image_id, class_id, confidence, copies,
           CASE WHEN $full THEN CAST(range(0, len(probs)) AS INTEGER[]) ELSE index END AS target_index,
           list_transform(CASE WHEN $full THEN probs ELSE prob END, lambda p: pow(p, $inv_t)) AS w
    FROM pseudo($round, $per_class, $seed)
)
SELECT image_id, class_id, confidence, copies, target_index,
       list_transform(w, lambda v: CAST(v / list_sum(w) AS FLOAT)) AS target_prob
FROM soft
