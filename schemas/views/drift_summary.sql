-- Drift between each pair of consecutive rounds of predictions on the unlabeled pool: images
-- compared, flip rate, mean confidence change, share of images at or above the selection
-- threshold (round a's selection's, per predicted class for --threshold auto, else default_threshold(), 0.3) in each round, Jensen-Shannon divergence (base 2,
-- 0 to 1) of the predicted class distributions, and churn of the selected pseudo labels between
-- round a's and round b's manifests (entered, left, kept; null until both rounds have one).
WITH rounds AS (SELECT DISTINCT round FROM predictions),
pairs AS (
    SELECT round AS round_a, lead(round) OVER (ORDER BY round) AS round_b FROM rounds
),
pairs2 AS (
    SELECT p.round_a, p.round_b, s.threshold, s.round IS NOT NULL AS selected
    FROM pairs p LEFT JOIN selections s ON s.round = p.round_a
    WHERE p.round_b IS NOT NULL
),
compared AS (
    SELECT q.round_a, q.round_b, count(*) AS images,
           avg(CASE WHEN a.class_id <> b.class_id THEN 1.0 ELSE 0.0 END) AS flip_rate,
           avg(b.confidence - a.confidence) AS mean_confidence_change,
           avg(CASE WHEN a.confidence >= coalesce(ca.threshold, q.threshold, default_threshold()) THEN 1.0 ELSE 0.0 END)
               AS above_threshold_a,
           avg(CASE WHEN b.confidence >= coalesce(cb.threshold, q.threshold, default_threshold()) THEN 1.0 ELSE 0.0 END)
               AS above_threshold_b,
           -- null for --threshold auto (per class); default_threshold() (0.3) when round a has no selection
           CASE WHEN any_value(q.selected) THEN any_value(q.threshold) ELSE default_threshold() END AS threshold
    FROM pairs2 q
    JOIN predictions a ON a.round = q.round_a AND a.split = 'unlabeled'
    JOIN predictions b ON b.round = q.round_b AND b.image_id = a.image_id
    LEFT JOIN selection_classes ca ON ca.round = q.round_a AND ca.class_id = a.class_id
    LEFT JOIN selection_classes cb ON cb.round = q.round_a AND cb.class_id = b.class_id
    GROUP BY q.round_a, q.round_b
),
dist AS (
    SELECT round, class_id, count(*) / sum(count(*)) OVER (PARTITION BY round) AS p
    FROM predictions WHERE split = 'unlabeled' GROUP BY round, class_id
),
js AS (
    SELECT q.round_a, q.round_b,
           sum(CASE WHEN coalesce(da.p, 0) > 0 THEN 0.5 * da.p * log2(da.p / ((coalesce(da.p, 0) + coalesce(db.p, 0)) / 2)) ELSE 0 END
             + CASE WHEN coalesce(db.p, 0) > 0 THEN 0.5 * db.p * log2(db.p / ((coalesce(da.p, 0) + coalesce(db.p, 0)) / 2)) ELSE 0 END)
             AS js_divergence
    FROM pairs2 q
    CROSS JOIN classes c
    LEFT JOIN dist da ON da.round = q.round_a AND da.class_id = c.class_id
    LEFT JOIN dist db ON db.round = q.round_b AND db.class_id = c.class_id
    GROUP BY q.round_a, q.round_b
),
selected AS (SELECT DISTINCT round, image_id FROM manifests WHERE origin = 'pseudo'),
churn AS (
    SELECT q.round_a, q.round_b,
           (SELECT count(*) FROM selected s WHERE s.round = q.round_b
              AND s.image_id NOT IN (SELECT image_id FROM selected t WHERE t.round = q.round_a)) AS entered,
           (SELECT count(*) FROM selected s WHERE s.round = q.round_a
              AND s.image_id NOT IN (SELECT image_id FROM selected t WHERE t.round = q.round_b)) AS left_out,
           (SELECT count(*) FROM selected s WHERE s.round = q.round_a
              AND s.image_id IN (SELECT image_id FROM selected t WHERE t.round = q.round_b)) AS kept
    FROM pairs2 q
)
SELECT c.round_a, c.round_b, c.images, c.flip_rate, c.mean_confidence_change, c.threshold,
       c.above_threshold_a, c.above_threshold_b, j.js_divergence,
       CASE WHEN both_selected THEN h.entered END AS selection_entered,
       CASE WHEN both_selected THEN h.left_out END AS selection_left,
       CASE WHEN both_selected THEN h.kept END AS selection_kept
FROM compared c JOIN js j USING (round_a, round_b) JOIN churn h USING (round_a, round_b)
JOIN (SELECT q.round_a, q.round_b,
             (SELECT count(*) FROM selections s WHERE s.round IN (q.round_a, q.round_b)) = 2 AS both_selected
      FROM pairs2 q) b USING (round_a, round_b)
ORDER BY c.round_a
