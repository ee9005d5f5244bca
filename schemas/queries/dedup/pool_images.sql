-- The pool before any model: every unlabeled image, with where it is read from. No confidence
-- (0 for all: a group's representative is then its smallest image id) and no class (-1).
SELECT image_id, CAST(0.0 AS FLOAT) AS confidence, -1 AS class_id, path, shard, member_offset, bytes
FROM images WHERE split = 'unlabeled'
QUALIFY row_number() OVER (PARTITION BY image_id ORDER BY path) = 1
ORDER BY image_id
