-- Where each of the images $ids is read from (first_rows: the row infer and every reader use).
SELECT image_id, path, shard, member_offset, bytes FROM first_rows() WHERE image_id IN (SELECT unnest($ids))
