-- copies (the official filter_unlabel.py): each row above its class's cutoff (the `cutoffs` table,
-- from the histogram walk) gets copies = N / count as int(c) + Bernoulli(frac(c)), the draw a
-- seeded hash of the image id; rows drawn zero times are left out.
CREATE OR REPLACE TEMP MACRO pseudo(rnd, per_class, seed) AS TABLE
WITH drawn AS (
    SELECT e.*, per_class / k.count AS c,
           md5_number_lower(image_id || ':' || CAST(seed AS VARCHAR)) / 18446744073709551616.0 AS u
    FROM eligible(rnd) e JOIN cutoffs k USING (class_id) WHERE e.confidence >= k.cutoff
)
SELECT image_id, class_id, confidence, index, prob, probs,
       CAST(floor(c) AS INTEGER) + CASE WHEN u < c - floor(c) THEN 1 ELSE 0 END AS copies
FROM drawn WHERE floor(c) >= 1 OR u < c - floor(c)
