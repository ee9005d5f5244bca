-- Where each manifest row is read from when its path is a tar shard member's (the images row with
-- the same id and path); NULLs for a loose file, whose path is read as it is.
SELECT s.shard, s.member_offset, s.bytes
FROM manifest_rows m
LEFT JOIN (SELECT DISTINCT ON (image_id, path) image_id, path, shard, member_offset, bytes
           FROM images WHERE shard IS NOT NULL) s USING (image_id, path)
ORDER BY m.seq
