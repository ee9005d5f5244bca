-- The images still to predict, in the order of their blocks: loose files by id, then each shard's
-- members in the order they lie in it (a block reads one stretch of one shard).
SELECT image_id, split, path, shard, member_offset, bytes FROM pool ANTI JOIN staged USING (image_id)
ORDER BY shard NULLS FIRST, member_offset, image_id
