SELECT u.image_id, u.image_id AS duplicate_of, 'exact' AS kind, o.split AS scope, CAST(1.0 AS FLOAT) AS similarity,
       u.image_id AS group_id, held_out(o.split) AS excluded
FROM (SELECT DISTINCT image_id FROM images WHERE split = 'unlabeled') u
JOIN (SELECT DISTINCT image_id, split FROM images WHERE split <> 'unlabeled') o USING (image_id)
