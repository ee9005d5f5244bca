-- The images to predict, each once: its unlabeled row first, then val, test, train ($order).
CREATE TEMP TABLE pool AS
SELECT image_id, arg_min(split, array_position($order::VARCHAR[], split)) AS split,
       arg_min(path, array_position($order::VARCHAR[], split)) AS path,
       arg_min_null(shard, array_position($order::VARCHAR[], split)) AS shard,
       arg_min_null(member_offset, array_position($order::VARCHAR[], split)) AS member_offset,
       arg_min_null(bytes, array_position($order::VARCHAR[], split)) AS bytes
FROM images WHERE list_contains($order::VARCHAR[], split)
GROUP BY image_id
