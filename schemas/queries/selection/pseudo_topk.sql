-- topk: in a class with at least N eligible rows, every row above its boundary bin (the bin where
-- the count from the top reaches N) is kept once, and only the boundary bin's rows are ranked for
-- the N - above places left; a class with fewer than N rows ranks them all to spread the copies.
-- Reads the `boundaries` table (class_id, boundary, above, total) computed from the histogram.
CREATE OR REPLACE TEMP MACRO pseudo(rnd, per_class, seed) AS TABLE
WITH placed AS (
    SELECT e.*, b.boundary, b.above, b.total FROM eligible(rnd) e JOIN boundaries b USING (class_id)
    WHERE e.bin >= b.boundary
),
contested AS (
    SELECT *, row_number() OVER (PARTITION BY class_id ORDER BY confidence DESC, image_id) AS rank,
           greatest(least(total, per_class), 1) AS kept
    FROM placed WHERE total < per_class OR bin = boundary
)
SELECT image_id, class_id, confidence, index, prob, probs, 1 AS copies
FROM placed WHERE total >= per_class AND bin > boundary
UNION ALL
SELECT image_id, class_id, confidence, index, prob, probs,
       per_class // kept + CASE WHEN rank <= per_class % kept THEN 1 ELSE 0 END AS copies
FROM contested WHERE above + rank <= per_class
