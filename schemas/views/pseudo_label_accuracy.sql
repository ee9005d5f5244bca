-- How right the selected pseudo labels were, where the unlabeled images carry withheld ground
-- truth (images.true_label): per round's manifest and pseudo label class, the distinct images
-- selected, those with ground truth, those correct, the accuracy, and the accuracy of all of
-- the round's predictions of that class for comparison.
WITH truth AS (SELECT * FROM withheld_truth),
selected AS (
    SELECT m.round, m.target AS class_id, m.image_id, t.true_class
    FROM manifests m LEFT JOIN truth t USING (image_id)
    WHERE m.origin = 'pseudo'
),
predicted AS (
    SELECT p.round, p.class_id, avg(CASE WHEN p.class_id = t.true_class THEN 1.0 ELSE 0.0 END) AS accuracy
    FROM predictions p JOIN truth t USING (image_id)
    WHERE p.split = 'unlabeled'
    GROUP BY p.round, p.class_id
)
SELECT s.round, s.class_id, c.name, count(*) AS selected, count(s.true_class) AS with_truth,
       count(*) FILTER (WHERE s.true_class = s.class_id) AS correct,
       count(*) FILTER (WHERE s.true_class = s.class_id) / nullif(count(s.true_class), 0) AS accuracy,
       any_value(p.accuracy) AS all_predictions_accuracy
FROM selected s
JOIN classes c USING (class_id)
LEFT JOIN predicted p ON p.round = s.round AND p.class_id = s.class_id
GROUP BY s.round, s.class_id, c.name
ORDER BY s.round, s.class_id
