-- The images to predict, each once: its unlabeled row first, then val, test, train ($order).
CREATE TEMP TABLE pool AS
SELECT image_id, arg_min(split, array_position($order::VARCHAR[], split)) AS split,
       arg_min(path, array_position($order::VARCHAR[], split)) AS path
FROM images WHERE list_contains($order::VARCHAR[], split)
GROUP BY image_id
