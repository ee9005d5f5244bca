-- The images to predict, each once, in the split of its first row among $order (images/first_rows).
CREATE TEMP TABLE pool AS
SELECT image_id, split, path, shard, member_offset, bytes FROM first_rows(splits := $order::VARCHAR[])
