-- One page of round $round's predictions on $split: filtered by predicted class, confidence,
-- selection decision ($status: selected, or a reason it was not), a class change since round
-- $other (or the class $other_class there), reviews and (where withheld labels exist) correctness;
-- sorted by $sort (confidence,
-- margin, or flip: the confidence change since round $other), descending unless $ascending.
-- Keyset pagination: the rows after ($after_key, $after_id) in (key DESC, image_id) order.
WITH rows AS (
    SELECT d.image_id, d.class_id, d.confidence, d.margin, d.selected, d.why, d.is_reviewed,
           o.class_id AS other_class, o.confidence AS other_confidence, t.class_id AS true_class,
           CAST(CASE $sort WHEN 'margin' THEN d.margin
                           WHEN 'flip' THEN abs(d.confidence - coalesce(o.confidence, d.confidence))
                           ELSE d.confidence END AS DOUBLE) * CASE WHEN $ascending THEN -1 ELSE 1 END AS key
    FROM decided_now($round) d
    LEFT JOIN (SELECT image_id, class_id, confidence FROM decided WHERE round = $other AND split = $split) o
        USING (image_id)
    LEFT JOIN (SELECT image_id, true_class AS class_id FROM withheld_truth) t USING (image_id)
    WHERE d.split = $split
      AND ($class_id IS NULL OR d.class_id = $class_id)
      AND d.confidence BETWEEN $min_confidence AND $max_confidence
      AND ($status IS NULL OR ($status = 'selected' AND d.selected) OR d.why = $status)
      AND ($reviewed IS NULL OR d.is_reviewed = $reviewed)
)
SELECT r.*
FROM rows r
WHERE (NOT $flipped OR (r.other_class IS NOT NULL AND r.other_class <> r.class_id))
  AND ($other_class IS NULL OR r.other_class = $other_class)
  AND ($correct IS NULL OR (r.true_class IS NOT NULL AND (r.true_class = r.class_id) = $correct))
  AND ($after_key IS NULL OR r.key < $after_key OR (r.key = $after_key AND r.image_id > $after_id))
ORDER BY r.key DESC, r.image_id
LIMIT $limit
