-- An image: where it came from (file or tar shard member), its size and format, its split, label
-- and withheld label.
SELECT image_id, split, path, shard, member_offset, bytes, label, true_label, width, height, mode, format, ingested_at
FROM images WHERE image_id = $image_id
ORDER BY ingested_at
LIMIT 1
