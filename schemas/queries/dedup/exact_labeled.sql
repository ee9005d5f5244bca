-- Labeled train images whose bytes are also a val or test image: the teacher would be trained on
-- what it is judged on. Reported (scope train-val or train-test), never excluded.
SELECT t.image_id, t.image_id AS duplicate_of, 'exact' AS kind, 'train-' || o.split AS scope,
       CAST(1.0 AS FLOAT) AS similarity, t.image_id AS group_id, false AS excluded
FROM (SELECT DISTINCT image_id FROM images WHERE split = 'train') t
JOIN (SELECT DISTINCT image_id, split FROM images WHERE held_out(split)) o USING (image_id)
