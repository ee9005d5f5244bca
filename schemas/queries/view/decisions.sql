-- Every prediction of round `rnd` with what the round's selection decided about it, before any
-- review: selected (in the manifest as a pseudo label), else why not, in this order:
-- contamination with val/test, an excluded near duplicate, no selection made yet, below its
-- class's threshold, or cut by per-class balancing. decided_now.sql adds the reviews.
CREATE OR REPLACE TEMP MACRO decisions(rnd) AS TABLE
WITH thresholds AS (SELECT class_id, threshold FROM selection_classes WHERE round = rnd),
excluded AS (
    SELECT image_id, bool_or(scope = 'held_out') AS contamination
    FROM duplicates WHERE round = rnd AND excluded GROUP BY image_id
),
picked AS (SELECT DISTINCT image_id FROM manifests WHERE round = rnd AND origin = 'pseudo')
SELECT p.image_id, p.split, p.class_id, p.confidence, p.margin,
       k.image_id IS NOT NULL AS selected,
       CASE WHEN k.image_id IS NOT NULL THEN NULL
            WHEN e.contamination THEN 'contamination'
            WHEN e.image_id IS NOT NULL THEN 'duplicate'
            WHEN t.class_id IS NULL THEN 'no selection'
            WHEN p.confidence < t.threshold THEN 'threshold'
            ELSE 'cutoff' END AS why
FROM predictions p
LEFT JOIN thresholds t USING (class_id)
LEFT JOIN excluded e USING (image_id)
LEFT JOIN picked k USING (image_id)
WHERE p.round = rnd
