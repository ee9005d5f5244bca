-- Which image each key of an imported predictions file names (the `keys` table: seq, key, stored,
-- bare): its content id, else its path as stored (images or aliases), else, for a bare file name
-- (timm's default output), the one image whose path ends in it. Per key: how many distinct images
-- the best way matched (more than one: ambiguous), one of them, and the split it is predicted in
-- (images/first_rows: as infer predicts each image once).
WITH named AS (
    SELECT image_id, path FROM images UNION ALL SELECT image_id, path FROM aliases
),
m AS (
    SELECT k.seq, i.image_id, 1 AS how FROM keys k JOIN images i ON i.image_id = k.key
    UNION ALL
    SELECT k.seq, n.image_id, 2 FROM keys k JOIN named n ON n.path = k.stored
    UNION ALL
    SELECT k.seq, n.image_id, 3 FROM keys k JOIN named n ON k.bare AND string_split(n.path, '/')[-1] = k.key
),
best AS (
    SELECT seq, count(DISTINCT image_id) AS ids, min(image_id) AS image_id
    FROM m WHERE how = (SELECT min(how) FROM m m2 WHERE m2.seq = m.seq) GROUP BY seq
)
SELECT k.seq, coalesce(b.ids, 0) AS ids, b.image_id, s.split
FROM keys k LEFT JOIN best b USING (seq) LEFT JOIN first_rows() s ON s.image_id = b.image_id
ORDER BY k.seq
