-- Per wanted image: its stored fingerprint, and the row a missing one is made from (the first
-- path; arg_min_null keeps a loose file's NULL shard instead of skipping to another row's).
SELECT i.image_id, min(i.path) AS path, arg_min_null(i.shard, i.path) AS shard,
       arg_min_null(i.member_offset, i.path) AS member_offset, arg_min_null(i.bytes, i.path) AS bytes,
       any_value(f.thumbnail) AS thumbnail, any_value(f.colour) AS colour
FROM images i LEFT JOIN fingerprints f USING (image_id)
WHERE i.image_id IN (SELECT image_id FROM wanted)
GROUP BY i.image_id ORDER BY i.image_id
